"""Device.IP.Diagnostics.TraceRoute.: ICMP echo probes with growing hop limits over an ICMP
socket, or the system's traceroute where this process may open none."""

import errno
import socket

from . import commands, icmp
from .common import CLOCK, Failure, millis, number, resolve, source_address

# The ICMP types that end a trace before the target: destination unreachable.
_UNREACHABLE = {socket.AF_INET: 3, socket.AF_INET6: 1}


def run(inputs, cancel, clock=CLOCK, device=None, how=None, names=True):
    """TraceRoute's results, RouteHops rows included. `how` forces "raw", "dgram" or
    "command" (tests); `names`: look the hops' names up (reverse DNS)."""
    family, address = resolve(inputs.get("Host", ""), inputs.get("ProtocolVersion", "Any"))
    tries = number(inputs, "NumberOfTries", 3, 1, 3)
    timeout = number(inputs, "Timeout", 5000, 1) / 1000.0
    size = number(inputs, "DataBlockSize", 38, 1, 65000)
    max_hops = number(inputs, "MaxHopCount", 30, 1, 64)
    used = source_address(family, address, device)
    how = how or icmp.method(family) or "command"
    if how == "command":
        hops = _command(family, address, tries, timeout, size, max_hops, inputs, device, cancel)
    else:
        hops = _sockets(how, family, address, tries, timeout, size, max_hops, inputs, device,
                        cancel, clock)
    return results(hops, address, family, max_hops, used, names, cancel)


def results(hops, address, family, max_hops, used, names=True, cancel=None):
    """The result dict from `hops`: [(responder or None, [seconds or None per try], ICMP
    code or None)], in hop order."""
    out = {"IPAddressUsed": used, "ResponseTime": "0"}
    state = "Error_MaxHopCountExceeded"
    looked_up = {}
    for n, (peer, rtts, code) in enumerate(hops, 1):
        row = "RouteHops.%d." % n
        name = ""
        if peer is not None and names:
            if cancel is not None:
                cancel.check()
            if peer not in looked_up:
                looked_up[peer] = _reverse(peer)
            name = looked_up[peer]
        out[row + "Host"] = name or peer or ""
        out[row + "HostAddress"] = peer if name else ""
        out[row + "ErrorCode"] = str(code or 0)
        out[row + "RTTimes"] = ",".join(str(millis(t)) if t is not None else "0" for t in rtts)
        if peer is not None and _same(family, peer, address):
            state = "Complete"
            answered = [t for t in rtts if t is not None]
            out["ResponseTime"] = str(millis(sum(answered) / len(answered)))
        elif n == len(hops) and code is not None and len(hops) < max_hops:
            state = "Error_NoRouteToHost"   # a router said the target is unreachable
    out["DiagnosticsState"] = state
    return out


def _same(family, a, b):
    try:
        return socket.inet_pton(family, a) == socket.inet_pton(family, b)
    except (OSError, ValueError):
        return False


def _reverse(address):
    try:
        name = socket.gethostbyaddr(address)[0]
    except (OSError, UnicodeError):
        return ""
    return name if len(name) <= 256 else ""


def _sockets(how, family, address, tries, timeout, size, max_hops, inputs, device, cancel, clock):
    hops = []
    prober = icmp.Prober(family, how, inputs, device, cancel, clock)
    try:
        for ttl in range(1, max_hops + 1):
            peer, rtts, code, done = None, [], None, False
            for t in range(tries):
                seq = ttl * 4 + t
                try:
                    prober.send(address, seq, size, ttl)
                except OSError as e:
                    if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                        raise Failure("Error_NoRouteToHost", "no route to %s" % address)
                    if e.errno == errno.EMSGSIZE:
                        raise Failure("Error_Other", "DataBlockSize %d is too large" % size)
                    raise
                got = prober.wait(seq, prober.sent[seq] + timeout)
                if got is None:
                    rtts.append(None)
                    continue
                kind, peer, typ, icmp_code, rtt = got
                rtts.append(rtt)
                code = icmp_code if kind == "error" else 0
                done = done or kind == "reply" or typ == _UNREACHABLE[family]
            hops.append((peer, rtts, code if peer is not None else None))
            if done:
                break
    finally:
        prober.close()
    return hops


def _command(family, address, tries, timeout, size, max_hops, inputs, device, cancel):
    program = commands.find("traceroute")
    if program is None:
        raise Failure("Error_Internal", "no ICMP socket allowed and no traceroute program")
    out = commands.TracerouteOutput()
    argv = commands.traceroute_argv(program, family, address, tries, timeout * 1000, size,
                                    number(inputs, "DSCP", 0, 0, 63), max_hops, device)
    status = commands.run(argv, cancel, out.line)
    if status is None or (status and not out.hops):
        raise Failure("Error_Internal", "%s failed (exit status %s)" % (program, status))
    hops = []
    for _, probes in out.hops:
        peers = [p for p, t, _ in probes if t is not None]
        peer = peers[-1] if peers else None
        marks = [c for _, t, c in probes if c is not None]
        if marks:
            code = marks[-1]
        elif peer is not None:
            # traceroute's UDP probes end at the target's port unreachable (ICMP code 3).
            code = 3 if _same(family, peer, address) else 0
        else:
            code = None
        hops.append((peer, [t for _, t, _ in probes], code))
    return hops


def supported(family):
    """Whether this process can trace routes over `family`."""
    return icmp.method(family) is not None or commands.find("traceroute") is not None
