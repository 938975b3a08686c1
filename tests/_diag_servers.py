"""Loopback peers for the diagnostics tests: an HTTP server that serves and accepts N bytes
without keeping them, a UDP DNS responder and a UDP echo server, each in a thread."""

import http.server
import socket
import struct
import threading


class Http:
    """GET /bytes/N: N bytes (/chunked/N: chunked); GET /status/N: that status; GET /stall:
    headers, then nothing until `release` is set; GET /held/N: headers, then N bytes once
    `release` is set (`held` counts such requests). PUT: the body is read and discarded
    (`received` counts it), answered 201."""

    def __init__(self):
        self.received = []
        self.held = 0
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = self.path.strip("/").split("/")
                if parts[0] == "status":
                    self.send_response(int(parts[1]))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if parts[0] == "stall":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.flush()
                    outer.release.wait(30)
                    return
                size = int(parts[1])
                chunked = parts[0] == "chunked"
                self.send_response(200)
                self.send_header("Transfer-Encoding" if chunked else "Content-Length",
                                 "chunked" if chunked else str(size))
                self.end_headers()
                if parts[0] == "held":
                    self.wfile.flush()
                    outer.held += 1
                    outer.release.wait(60)
                block = bytes(65536)
                while size > 0:
                    piece = block[:min(size, len(block))]
                    try:
                        if chunked:
                            self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                        else:
                            self.wfile.write(piece)
                    except OSError:
                        return   # a time-based test hangs up
                    size -= len(piece)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")

            def do_PUT(self):
                got = 0
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if not size:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass   # trailers
                            break
                        while size:
                            piece = self.rfile.read(min(size, 65536))
                            if not piece:
                                return
                            size -= len(piece)
                            got += len(piece)
                        self.rfile.readline()
                else:
                    left = int(self.headers.get("Content-Length", "0"))
                    while left:
                        piece = self.rfile.read(min(left, 65536))
                        if not piece:
                            return
                        left -= len(piece)
                        got += len(piece)
                outer.received.append(got)
                self.send_response(201)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class _Udp:
    """A UDP socket on `host` (127.0.0.1), `port` (any), served by `_serve` in a thread
    until close()."""

    def __init__(self, host="127.0.0.1", port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        self.sock.close()


class Dns(_Udp):
    """Answers A and AAAA queries (on 127.0.0.1, any port, unless told) from `zone`:
    {name: [addresses]} or {name: "cname:target"}; `rcode` {name: code}; names in `silent`
    get no answer; `authoritative` sets the AA bit. `queries` lists (name, type) received."""

    def __init__(self, zone=None, rcode=None, silent=(), authoritative=False, host="127.0.0.1", port=0):
        self.zone = zone or {}
        self.rcode = rcode or {}
        self.silent = set(silent)
        self.authoritative = authoritative
        self.queries = []
        _Udp.__init__(self, host, port)

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            ident, _, qd = struct.unpack("!HHH", data[:6])
            pos, labels = 12, []
            while data[pos]:
                labels.append(data[pos + 1:pos + 1 + data[pos]].decode())
                pos += 1 + data[pos]
            qtype = struct.unpack("!H", data[pos + 1:pos + 3])[0]
            question = data[12:pos + 5]
            name = ".".join(labels)
            self.queries.append((name, qtype))
            if name in self.silent:
                continue
            answers = []
            owner = name
            target = self.zone.get(owner)
            while isinstance(target, str) and target.startswith("cname:"):
                answers.append(_record(owner, 5, _wire_name(target[6:])))
                owner = target[6:]
                target = self.zone.get(owner)
            for addr in target or ():
                family = socket.AF_INET6 if ":" in addr else socket.AF_INET
                if (qtype == 28) == (family == socket.AF_INET6):
                    answers.append(_record(owner, qtype, socket.inet_pton(family, addr)))
            rcode = self.rcode.get(name, 0 if name in self.zone else 3)
            flags = 0x8180 | (0x0400 if self.authoritative else 0) | rcode
            head = struct.pack("!HHHHHH", ident, flags, 1, len(answers), 0, 0)
            self.sock.sendto(head + question + b"".join(answers), peer)


def _wire_name(name):
    return b"".join(bytes((len(x),)) + x.encode() for x in name.split(".")) + b"\0"


def _record(owner, rtype, rdata):
    return _wire_name(owner) + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata


class Echo(_Udp):
    """A UDP echo server on 127.0.0.1 (every datagram sent back); `drop` first ones lost."""

    def __init__(self, drop=0):
        self.drop = drop
        _Udp.__init__(self)

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:
                return
            if self.drop:
                self.drop -= 1
                continue
            self.sock.sendto(data, peer)
