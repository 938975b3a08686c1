"""Device.DNS.Diagnostics.NSLookupDiagnostics.: A and AAAA queries for HostName to DNSServer
(or the first nameserver of resolv.conf) over UDP, one Result row per repetition; the
system resolver when no server is known."""

import errno
import os
import select
import socket

from . import dnswire
from .common import CLOCK, Failure, host_ok, millis, number, prepare, resolve

MAX_ADDRESSES = 10   # Result.{i}.IPAddresses holds at most 10 items


def run(inputs, cancel, clock=CLOCK, device=None, port=53, resolv_conf="/etc/resolv.conf"):
    """NSLookupDiagnostics' results. `port` and `resolv_conf` are seams for tests."""
    name = inputs.get("HostName", "")
    if not host_ok(name):
        raise Failure("Error_Other", "HostName %r is not a host name" % name)
    try:
        name = name.encode("ascii").decode("ascii")
    except UnicodeEncodeError:
        name = name.encode("idna").decode("ascii")
    count = number(inputs, "NumberOfRepetitions", 1, 1)
    timeout = number(inputs, "Timeout", 5000, 1) / 1000.0
    server = inputs.get("DNSServer", "") or nameserver(resolv_conf)
    rows = []
    if server:
        family, address = resolve(server, error="Error_DNSServerNotResolved")
        for _ in range(count):
            cancel.check()
            rows.append(lookup(name, family, address, port, timeout, cancel, clock, device))
    else:
        for _ in range(count):
            cancel.check()
            rows.append(_system(name, clock))
    out = {"DiagnosticsState": "Complete",
           "SuccessCount": str(sum(1 for r in rows if r["Status"] == "Success"))}
    for i, row in enumerate(rows, 1):
        out.update(("Result.%d.%s" % (i, k), v) for k, v in row.items())
    return out


def nameserver(path):
    """The first nameserver of resolv.conf, or "" (none, or no file)."""
    try:
        with open(path) as f:
            for line in f:
                words = line.split()
                if len(words) >= 2 and words[0] == "nameserver":
                    return words[1].split("%")[0]
    except (OSError, UnicodeDecodeError):
        pass
    return ""


def lookup(name, family, address, port, timeout, cancel, clock, device=None):
    """One repetition: the Result row of an A and an AAAA query sent together."""
    row = {"Status": "Error_Timeout", "AnswerType": "None", "HostNameReturned": "",
           "IPAddresses": "", "DNSServerIP": address, "ResponseTime": "0"}
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        prepare(sock, family, {}, device)
        sock.connect((address, port))
        pending = {}
        for qtype in (dnswire.A, dnswire.AAAA):
            ident = int.from_bytes(os.urandom(2), "big")
            pending[ident] = qtype
            sock.send(dnswire.query(name, qtype, ident))
        answers, refused = _collect(sock, pending, timeout, cancel, clock)
    except OSError as e:
        if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED):
            row["Status"] = "Error_DNSServerNotAvailable"
            return row
        raise Failure("Error_Internal", "cannot query %s: %s" % (address, e.strerror or e))
    finally:
        sock.close()
    return _row(row, name, answers, refused)


def _collect(sock, pending, timeout, cancel, clock):
    """{qtype: (rcode, authoritative, records, seconds)} of the answers within `timeout`,
    and whether the server's port was closed."""
    answers, start = {}, clock.mono()
    deadline = start + timeout
    while pending:
        cancel.check()
        left = deadline - clock.mono()
        if left <= 0:
            break
        if not select.select([sock], [], [], min(left, 0.25))[0]:
            continue
        try:
            data = sock.recv(65535)
        except ConnectionRefusedError:
            return answers, True
        for ident in list(pending):
            try:
                parsed = dnswire.parse(data, ident)
            except dnswire.Malformed:
                continue
            answers[pending.pop(ident)] = parsed + (clock.mono() - start,)
            break
    return answers, False


def _row(row, name, answers, refused):
    if not answers:
        if refused:
            row["Status"] = "Error_DNSServerNotAvailable"
        return row
    row["ResponseTime"] = str(millis(max(a[3] for a in answers.values())))
    found, owner, authoritative = [], "", False
    for qtype in (dnswire.A, dnswire.AAAA):
        if qtype in answers:
            rcode, aa, records, _ = answers[qtype]
            holder, addrs = dnswire.addresses(name, records, qtype)
            if addrs:
                owner = owner or holder
                authoritative = authoritative or aa
                found.extend(addrs)
    rcodes = set(a[0] for a in answers.values())
    if found:
        row.update(Status="Success", AnswerType="Authoritative" if authoritative else "NonAuthoritative",
                   HostNameReturned=owner[:256], IPAddresses=",".join(found[:MAX_ADDRESSES]))
    elif rcodes & {dnswire.NXDOMAIN, dnswire.NOERROR}:
        row["Status"] = "Error_HostNameNotResolved"
    elif rcodes <= {dnswire.SERVFAIL, dnswire.REFUSED, dnswire.NOTIMP}:
        row["Status"] = "Error_DNSServerNotAvailable"
    else:
        row["Status"] = "Error_Other"
    return row


def _system(name, clock):
    """A Result row from the system resolver (getaddrinfo): no server, no answer type."""
    row = {"Status": "Error_HostNameNotResolved", "AnswerType": "None", "HostNameReturned": "",
           "IPAddresses": "", "DNSServerIP": "", "ResponseTime": "0"}
    start = clock.mono()
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_UNSPEC, socket.SOCK_DGRAM, 0,
                                   socket.AI_CANONNAME)
    except socket.gaierror as e:
        if e.errno == socket.EAI_AGAIN:
            row["Status"] = "Error_Timeout"
        return row
    found = []
    for family, _, _, canon, addr in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and addr[0] not in found:
            found.append(addr[0])
    found.sort(key=lambda a: ":" in a)   # IPv4 first, as with a server
    row.update(Status="Success", AnswerType="NonAuthoritative",
               HostNameReturned=(next((i[3] for i in infos if i[3]), "") or name)[:256],
               IPAddresses=",".join(found[:MAX_ADDRESSES]),
               ResponseTime=str(millis(clock.mono() - start)))
    return row
