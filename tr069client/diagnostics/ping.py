"""Device.IP.Diagnostics.IPPing.: ICMP echo to Host over an ICMP socket, or the system's
ping where this process may open none."""

import errno

from . import commands, icmp
from .common import CLOCK, Failure, Times, number, resolve, source_address

_NO_ROUTE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL)


def run(inputs, cancel, clock=CLOCK, device=None, interval=1.0, how=None):
    """IPPing's results. `how` forces "raw", "dgram" or "command" (tests); by default the
    first that works. `interval`: seconds from one echo request to the next."""
    family, address = resolve(inputs.get("Host", ""), inputs.get("ProtocolVersion", "Any"))
    count = number(inputs, "NumberOfRepetitions", 1, 1)
    timeout = number(inputs, "Timeout", 1000, 1) / 1000.0
    size = number(inputs, "DataBlockSize", 56, 1, 65535)
    used = source_address(family, address, device)
    times, unreachable = measure(family, address, count, timeout, size, inputs, cancel, clock,
                                 device, interval, how)
    if not times.count and unreachable:
        raise Failure("Error_NoRouteToHost", "%s is unreachable" % address)
    return dict(summary(times), DiagnosticsState="Complete", IPAddressUsed=used,
                SuccessCount=str(times.count), FailureCount=str(count - times.count))


def measure(family, address, count, timeout, size, inputs, cancel, clock=CLOCK, device=None,
            interval=1.0, how=None):
    """(Times of the replies, whether an error said `address` is unreachable) of `count`
    echo requests."""
    how = how or icmp.method(family) or "command"
    if how == "command":
        return _command(family, address, count, timeout, size, inputs, device, cancel)
    return _sockets(how, family, address, count, timeout, size, inputs, device, cancel, clock,
                    interval)


def summary(times):
    """The response-time results of IPPing: milliseconds (a response under 1 ms counts
    as 1) and, Detailed, microseconds; all 0 without a response."""
    if not times.count:
        return {name: "0" for name in ("AverageResponseTime", "MinimumResponseTime",
                                       "MaximumResponseTime", "AverageResponseTimeDetailed",
                                       "MinimumResponseTimeDetailed", "MaximumResponseTimeDetailed")}
    out = {}
    for name, seconds in (("Average", times.mean()), ("Minimum", times.low), ("Maximum", times.high)):
        out[name + "ResponseTime"] = str(max(1, int(round(seconds * 1000))))
        out[name + "ResponseTimeDetailed"] = str(max(1, int(round(seconds * 1e6))))
    return out


def echo(prober, address, seq, size, timeout):
    """One echo request: (round-trip seconds or None, whether it was unreachable)."""
    try:
        prober.send(address, seq, size)
    except OSError as e:
        if e.errno in _NO_ROUTE:
            return None, True
        if e.errno == errno.EMSGSIZE:
            raise Failure("Error_Other", "DataBlockSize %d is too large for %s" % (size, address))
        raise
    got = prober.wait(seq, prober.sent[seq] + timeout)
    if got is None:
        return None, False
    if got[0] == "reply":
        return got[4], False
    return None, True


def _sockets(how, family, address, count, timeout, size, inputs, device, cancel, clock, interval):
    times, unreachable = Times(), False
    prober = icmp.Prober(family, how, inputs, device, cancel, clock)
    last = None
    try:
        for i in range(count):
            if last is not None:
                cancel.wait(last + interval - clock.mono())
            seq = (i + 1) & 0xFFFF
            rtt, lost = echo(prober, address, seq, size, timeout)
            last = prober.sent.pop(seq)
            unreachable = unreachable or lost
            if rtt is not None:
                times.add(rtt)
    finally:
        prober.close()
    return times, unreachable


def _command(family, address, count, timeout, size, inputs, device, cancel):
    program = commands.find("ping")
    if program is None:
        raise Failure("Error_Internal", "no ICMP socket allowed and no ping program")
    out = commands.PingOutput()
    argv = commands.ping_argv(program, family, address, count, timeout * 1000, size,
                              number(inputs, "DSCP", 0, 0, 63), device)
    if commands.run(argv, cancel, out.line) is None:
        raise Failure("Error_Internal", "cannot run %s" % program)
    return out.times, out.unreachable


def supported(family):
    """Whether this process can ping over `family` (an ICMP socket or a ping program)."""
    return icmp.method(family) is not None or commands.find("ping") is not None

