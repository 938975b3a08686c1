"""Device.IP.Diagnostics.DownloadDiagnostics. and .UploadDiagnostics.: TR-143 HTTP transfers
over one or more connections, each byte counted and discarded (or sent from one reused
buffer), so memory does not grow with the size of the test."""

import errno
import socket
import threading

from .. import connection   # http.client without ssl
from ..datatypes import MAX_UINT
from .common import (CLOCK, MAX_CONNECTIONS, Canceled, Failure, counters, number, prepare, resolve,
                     shutdown, timestamp, url_error)

http_client = connection.http.client
CHUNK = 64 * 1024
MAX_INCREMENTAL = 100        # ...MaxIncrementalResult
IDLE_TIMEOUT = 30.0          # seconds a connect, a read or a write may wait


class _Meter(socket.socket):
    """A TCP socket that counts the bytes it moves and notes when data first and last
    came in (the wall clock of `clock`)."""
    clock = CLOCK
    received = sent = 0
    first_in = last_in = None

    def recv_into(self, buffer, nbytes=0, flags=0):
        n = socket.socket.recv_into(self, buffer, nbytes, flags)
        if n:
            now = self.clock.wall()
            if self.first_in is None:
                self.first_in = now
            self.last_in = now
            self.received += n
        return n

    def sendall(self, data, flags=0):
        socket.socket.sendall(self, data, flags)
        self.sent += len(data)


class _Load:
    """What the connections of one test share: when all were loaded (each past its
    BOMTime) and when the first finished, with the byte counts at both moments."""

    def __init__(self, conns, device, upload):
        self.conns, self.device, self.upload = conns, device, upload
        self.lock = threading.Lock()
        self.begun = threading.Event()
        self.started = self.finished = 0
        self.deadline = None      # monotonic end of a time-based test
        self.all_done = None      # monotonic time the last connection ended
        self.full_start = self.full_end = None

    def bytes(self):
        return sum(c.sock.sent if self.upload else c.sock.received for c in self.conns if c.sock)

    def mark(self, now):
        return now, self.bytes(), counters(self.device)

    def began(self, conn, clock, duration):
        with self.lock:
            self.started += 1
            if self.deadline is None and duration:
                self.deadline = clock.mono() + duration
            if self.started == len(self.conns):
                self.full_start = self.mark(clock.wall())
        self.begun.set()

    def ended(self, clock, last=False):
        with self.lock:
            if self.full_end is None:
                self.full_end = self.mark(clock.wall())
            if last:
                self.finished += 1
                if self.finished == len(self.conns):
                    self.all_done = clock.mono()


class _Conn:
    """One connection of the test; its results, or `error`, a Failure."""

    def __init__(self, n):
        self.n = n
        self.sock = None
        self.rom = self.bom = self.eom = self.tcp_request = self.tcp_response = None
        self.counts = None        # interface counters at BOM
        self.totals = (0, 0)
        self.error = None
        self.local = ""


def download(inputs, cancel, clock=CLOCK, device=None):
    """DownloadDiagnostics' results: GET DownloadURL on NumberOfConnections connections."""
    return _run(inputs, inputs.get("DownloadURL", ""), False, cancel, clock, device)


def upload(inputs, cancel, clock=CLOCK, device=None):
    """UploadDiagnostics' results: PUT TestFileLength bytes to UploadURL on each connection
    (or, time based, as much as the time allows, chunked)."""
    return _run(inputs, inputs.get("UploadURL", ""), True, cancel, clock, device)


def _run(inputs, url, upload, cancel, clock, device):
    problem = url_error(url)
    if problem:
        raise Failure("Error_InitConnectionFailed", problem)
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    family, address = resolve(parts.hostname, inputs.get("ProtocolVersion", "Any"), socket.SOCK_STREAM)
    n = number(inputs, "NumberOfConnections", 1, 1)
    if n > MAX_CONNECTIONS:
        raise Failure("Error_Other", "NumberOfConnections %d is over %d" % (n, MAX_CONNECTIONS))
    plan = {"family": family, "address": address, "port": parts.port or 80,
            "host": parts.hostname, "path": (parts.path or "/") + (
                "?" + parts.query if parts.query else ""),
            "length": number(inputs, "TestFileLength", 0, 0),
            "duration": number(inputs, "TimeBasedTestDuration", 0, 0, 999)}
    conns = [_Conn(i + 1) for i in range(n)]
    load = _Load(conns, device, upload)
    threads = [threading.Thread(target=_connection, args=(c, plan, inputs, load, upload, cancel, clock, device),
                                daemon=True) for c in conns]
    for t in threads:
        t.start()
    increments = []
    try:
        _increments(inputs, load, increments, cancel, clock)
    finally:
        for t in threads:
            t.join()
    cancel.check()
    errors = [c.error for c in conns if c.error is not None]
    if errors:
        raise errors[0]
    return _results(conns, load, increments, inputs, upload)


def _connection(conn, plan, inputs, load, upload, cancel, clock, device):
    try:
        _transfer(conn, plan, inputs, load, upload, cancel, clock, device)
    except Canceled:
        pass
    except Failure as e:
        conn.error = e
    except Exception as e:   # a bug here must end the test, not the worker silently
        conn.error = Failure("Error_Internal", "%s: %s" % (type(e).__name__, e))
    finally:
        if conn.sock is not None:
            conn.sock.close()
        load.ended(clock, last=True)
        load.begun.set()


def _transfer(conn, plan, inputs, load, upload, cancel, clock, device):
    sock = _Meter(plan["family"], socket.SOCK_STREAM)
    sock.clock = clock
    conn.sock = sock
    key = cancel.on_cancel(shutdown(sock))
    try:
        prepare(sock, plan["family"], inputs, device)
        sock.settimeout(IDLE_TIMEOUT)
        conn.tcp_request = clock.wall()
        try:
            sock.connect((plan["address"], plan["port"]))
        except OSError as e:
            cancel.check()
            if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                raise Failure("Error_NoRouteToHost", "no route to %s" % plan["address"])
            raise Failure("Error_InitConnectionFailed", "cannot connect to %s port %d: %s" % (
                plan["address"], plan["port"], e.strerror or e))
        conn.tcp_response = clock.wall()
        conn.local = sock.getsockname()[0]
        http = connection.HTTPConnection(plan["host"], plan["port"], timeout=IDLE_TIMEOUT)
        http.sock = sock
        if upload:
            _put(http, conn, plan, load, cancel, clock)
        else:
            _get(http, conn, plan, load, cancel, clock)
    except OSError as e:   # socket.timeout included
        cancel.check()
        if isinstance(e, socket.timeout):
            raise Failure("Error_Timeout", "no data for %g s" % IDLE_TIMEOUT)
        raise Failure("Error_NoTransferComplete" if upload else "Error_TransferFailed",
                      "the transfer broke off: %s" % (e.strerror or e))
    except http_client.HTTPException as e:
        cancel.check()
        raise Failure("Error_NoTransferComplete" if upload else "Error_TransferFailed",
                      "the transfer broke off: %s" % type(e).__name__)
    finally:
        cancel.forget(key)


def _response(http, upload):
    try:
        return http.getresponse()
    except (http_client.BadStatusLine, ConnectionError) as e:
        raise Failure("Error_NoResponse", "the server did not answer (%s)" % type(e).__name__)


def _get(http, conn, plan, load, cancel, clock):
    conn.rom = clock.wall()
    http.putrequest("GET", plan["path"], skip_accept_encoding=True)
    http.endheaders()
    resp = _response(http, False)
    conn.bom = conn.sock.first_in
    conn.counts = counters(load.device)
    load.began(conn, clock, plan["duration"])
    if resp.status != 200:
        raise Failure("Error_TransferFailed", "the server answered %d %s" % (resp.status, resp.reason))
    buf = memoryview(bytearray(CHUNK))
    while resp.readinto(buf):
        cancel.check()
        if load.deadline is not None and clock.mono() >= load.deadline:
            break   # a time-based test: enough
    _finish(conn, load, clock, conn.sock.last_in)


def _put(http, conn, plan, load, cancel, clock):
    duration, length = plan["duration"], plan["length"]
    conn.rom = clock.wall()
    http.putrequest("PUT", plan["path"], skip_accept_encoding=True)
    http.putheader("Content-Type", "application/octet-stream")
    if duration:
        http.putheader("Transfer-Encoding", "chunked")
    else:
        http.putheader("Content-Length", str(length))
    http.endheaders()
    zeros = bytes(CHUNK)
    conn.bom = clock.wall()
    conn.counts = counters(load.device)
    load.began(conn, clock, duration)
    left = length
    while duration or left > 0:
        cancel.check()
        if duration and clock.mono() >= load.deadline:
            conn.sock.sendall(b"0\r\n\r\n")
            break
        piece = zeros if duration or left >= CHUNK else zeros[:left]
        if duration:
            conn.sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        else:
            conn.sock.sendall(piece)
            left -= len(piece)
    resp = _response(http, True)
    resp.read(CHUNK)   # a short answer; what is beyond is not ours to keep
    # TR-143: an HTTP upload ends when the server's successful response arrives.
    _finish(conn, load, clock, clock.wall())
    if not 200 <= resp.status < 300:
        raise Failure("Error_NoTransferComplete", "the server answered %d %s" % (resp.status, resp.reason))


def _finish(conn, load, clock, eom):
    conn.eom = eom
    load.ended(clock)
    rx, tx = counters(load.device)
    conn.totals = (rx - conn.counts[0], tx - conn.counts[1])


def _increments(inputs, load, rows, cancel, clock):
    """TR-143 time-based test: a row per TimeBasedTestMeasurementInterval, from BOMTime plus
    TimeBasedTestMeasurementOffset, each with what all connections moved in it."""
    duration = number(inputs, "TimeBasedTestDuration", 0, 0, 999)
    interval = number(inputs, "TimeBasedTestMeasurementInterval", 0, 0, 999)
    if not duration or not interval:
        return
    while not load.begun.wait(0.25):
        cancel.check()
    if load.deadline is None:
        return   # every connection failed before any data
    start = load.deadline - duration + number(inputs, "TimeBasedTestMeasurementOffset", 0, 0, 255)
    to_wall = clock.wall() - clock.mono()
    cancel.wait(start - clock.mono())
    before = load.mark(clock.wall())
    while len(rows) < MAX_INCREMENTAL and start + interval <= load.deadline + 0.001:
        if load.all_done is not None and load.all_done <= start:
            break   # the transfers ended (a short file) before this interval began
        start += interval
        while clock.mono() < start and load.all_done is None:
            cancel.wait(min(0.25, start - clock.mono()))
        after = load.mark(min(start, clock.mono()) + to_wall)
        rows.append((before, after))
        before = after


def _results(conns, load, increments, inputs, upload):
    moved = "TestBytesSent" if upload else "TestBytesReceived"
    total = sum(c.sock.sent if upload else c.sock.received for c in conns)
    out = {"DiagnosticsState": "Complete", "IPAddressUsed": conns[0].local,
           "ROMTime": timestamp(min(c.rom for c in conns)),
           "BOMTime": timestamp(min(c.bom for c in conns)),
           "EOMTime": timestamp(max(c.eom for c in conns)),
           "TCPOpenRequestTime": timestamp(max(c.tcp_request for c in conns)),
           "TCPOpenResponseTime": timestamp(max(c.tcp_response for c in conns)),
           moved: str(total),
           "TotalBytesReceived": str(sum(c.totals[0] for c in conns)),
           "TotalBytesSent": str(sum(c.totals[1] for c in conns))}
    full = "%sUnderFullLoading" % moved
    start, end = load.full_start, load.full_end
    if start and end and end[0] >= start[0]:
        out[full] = str(end[1] - start[1])
        out["TotalBytesReceivedUnderFullLoading"] = str(end[2][0] - start[2][0])
        out["TotalBytesSentUnderFullLoading"] = str(end[2][1] - start[2][1])
        out["PeriodOfFullLoading"] = str(min(MAX_UINT, int(round((end[0] - start[0]) * 1e6))))
    else:   # one connection ended before the last began: the load was never full
        out.update({full: "0", "TotalBytesReceivedUnderFullLoading": "0",
                    "TotalBytesSentUnderFullLoading": "0", "PeriodOfFullLoading": "0"})
    if inputs.get("EnablePerConnectionResults") in ("true", "1"):
        for c in conns:
            row = "PerConnectionResult.%d." % c.n
            out.update({row + "ROMTime": timestamp(c.rom), row + "BOMTime": timestamp(c.bom),
                        row + "EOMTime": timestamp(c.eom),
                        row + moved: str(c.sock.sent if upload else c.sock.received),
                        row + "TotalBytesReceived": str(c.totals[0]),
                        row + "TotalBytesSent": str(c.totals[1]),
                        row + "TCPOpenRequestTime": timestamp(c.tcp_request),
                        row + "TCPOpenResponseTime": timestamp(c.tcp_response)})
    for i, (before, after) in enumerate(increments, 1):
        row = "IncrementalResult.%d." % i
        out.update({row + moved: str(after[1] - before[1]),
                    row + "TotalBytesReceived": str(after[2][0] - before[2][0]),
                    row + "TotalBytesSent": str(after[2][1] - before[2][1]),
                    row + "StartTime": timestamp(before[0]), row + "EndTime": timestamp(after[0])})
    return out
