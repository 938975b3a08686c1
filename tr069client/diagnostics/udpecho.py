"""Device.IP.Diagnostics.UDPEchoDiagnostics.: datagrams to Host:Port, each waiting for its
echo (TR-143 UDP Echo, without the Echo Plus fields)."""

import errno
import os
import select
import socket

from .common import CLOCK, Times, number, prepare, resolve, source_address

ECHO_PORT = 7


def run(inputs, cancel, clock=CLOCK, device=None):
    """UDPEchoDiagnostics' results; response times in microseconds."""
    family, address = resolve(inputs.get("Host", ""), inputs.get("ProtocolVersion", "Any"))
    port = number(inputs, "Port", ECHO_PORT, 1, 65535)
    count = number(inputs, "NumberOfRepetitions", 1, 1)
    used = source_address(family, address, device)
    times = measure(family, address, port, count, inputs, cancel, clock, device)
    out = {"DiagnosticsState": "Complete", "IPAddressUsed": used,
           "SuccessCount": str(times.count), "FailureCount": str(count - times.count)}
    out.update(summary(times))
    return out


def summary(times):
    """Average/Minimum/MaximumResponseTime in microseconds, 0 without a response."""
    values = (times.mean(), times.low, times.high) if times.count else (0, 0, 0)
    return {name + "ResponseTime": str(int(round(v * 1e6))) if times.count else "0"
            for name, v in zip(("Average", "Minimum", "Maximum"), values)}


def measure(family, address, port, count, inputs, cancel, clock=CLOCK, device=None):
    """Times of the echoes of `count` datagrams (DataBlockSize bytes, one every
    InterTransmissionTime ms, each waiting Timeout ms)."""
    size = number(inputs, "DataBlockSize", 24, 1, 65000)
    timeout = number(inputs, "Timeout", 1000, 1) / 1000.0
    gap = number(inputs, "InterTransmissionTime", 1000, 1, 65535) / 1000.0
    times = Times()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        prepare(sock, family, inputs, device)
        sock.connect((address, port))
        tag = os.urandom(4)
        last = None
        for seq in range(count):
            if last is not None:
                cancel.wait(last + gap - clock.mono())
            payload = (tag + seq.to_bytes(4, "big") + bytes(size))[:max(size, 8)]
            last = clock.mono()
            try:
                sock.send(payload)
            except OSError as e:
                if e.errno in (errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH):
                    continue   # counted as a failure
                raise
            rtt = _wait(sock, payload, last, timeout, cancel, clock)
            if rtt is not None:
                times.add(rtt)
    finally:
        sock.close()
    return times


def _wait(sock, payload, sent, timeout, cancel, clock):
    while True:
        cancel.check()
        left = sent + timeout - clock.mono()
        if left <= 0:
            return None
        if not select.select([sock], [], [], min(left, 0.25))[0]:
            continue
        try:
            data = sock.recv(65535)
        except OSError:
            continue   # an ICMP error for an earlier datagram: this one may still come
        if data[:8] == payload[:8]:
            return clock.mono() - sent
