"""Device.IP.Diagnostics.ServerSelectionDiagnostics.: the host of HostList with the smallest
average response time, by ICMP echo or UDP echo (to the echo port, 7)."""

from . import ping, udpecho
from .common import CLOCK, Failure, number, resolve, source_address


def run(inputs, cancel, clock=CLOCK, device=None, echo_port=udpecho.ECHO_PORT, interval=1.0):
    """ServerSelectionDiagnostics' results; response times in microseconds."""
    hosts = [h.strip() for h in inputs.get("HostList", "").split(",") if h.strip()]
    count = number(inputs, "NumberOfRepetitions", 1, 1)
    timeout = number(inputs, "Timeout", 1000, 1)
    udp = inputs.get("Protocol", "ICMP") == "UDP Echo"
    best = None
    resolved = 0
    for host in hosts:
        cancel.check()
        try:
            family, address = resolve(host, inputs.get("ProtocolVersion", "Any"))
            used = source_address(family, address, device)
        except Failure:
            continue   # another host of the list may do
        resolved += 1
        if udp:
            times = udpecho.measure(family, address, echo_port, count,
                                    dict(inputs, Timeout=str(timeout), InterTransmissionTime="1"),
                                    cancel, clock, device)
        else:
            times = ping.measure(family, address, count, timeout / 1000.0, 24, inputs, cancel,
                                 clock, device, interval)[0]
        if times.count and (best is None or times.mean() < best[1].mean()):
            best = (host, times, used)
    if hosts and not resolved:
        raise Failure("Error_CannotResolveHostName", "no host of HostList resolves")
    out = {"DiagnosticsState": "Complete", "FastestHost": "", "IPAddressUsed": "",
           "MinimumResponseTime": "0", "AverageResponseTime": "0", "MaximumResponseTime": "0"}
    if best is not None:
        out.update(udpecho.summary(best[1]), FastestHost=best[0], IPAddressUsed=best[2])
    return out
