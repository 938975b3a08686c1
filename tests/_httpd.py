"""A small threaded HTTP(S) server on 127.0.0.1 for the transport tests, scripted by a function."""

import http.server
import socket
import threading


class Request:
    """What the server received, plus the per-connection state a handler may keep."""

    def __init__(self, handler, conn_id, conn_state, body):
        self.handler = handler  # the BaseHTTPRequestHandler, for raw writes
        self.method = handler.command
        self.path = handler.path
        self.headers = handler.headers
        self.body = body
        self.conn_id = conn_id  # 1 for the first accepted connection, ...
        self.conn = conn_state  # dict kept for the life of the TCP connection


class Server:
    """Serves `handle(request) -> (status, [(name, value)], body)` or None (handler wrote)."""

    def __init__(self, handle, tls=None):
        self.handle = handle
        self.tls = tls  # an ssl.SSLContext (server side) or None
        self.accepts = 0
        self.requests = []
        self.errors = []
        self.release = threading.Event()  # handlers that stall wait on this
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                if outer.tls is not None:
                    self.request = outer.tls.wrap_socket(self.request, server_side=True)
                http.server.BaseHTTPRequestHandler.setup(self)
                self.conn_state = {}
                outer.accepts += 1
                self.conn_id = outer.accepts

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self, self.conn_id, self.conn_state, body)
                outer.requests.append(req)
                answer = outer.handle(req)
                if answer is None:
                    return
                status, headers, data = answer
                self.send_response(status)
                names = set(n.lower() for n, _ in headers)
                for name, value in headers:
                    self.send_header(name, value)
                if "content-length" not in names and "transfer-encoding" not in names:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

            do_GET = do_POST = do_PUT = _any

        class HTTPServer(http.server.ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request, client_address):
                import sys
                outer.errors.append(sys.exc_info()[1])

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def url(self, path="/acs", host="127.0.0.1"):
        scheme = "https" if self.tls is not None else "http"
        return "%s://%s:%d%s" % (scheme, host, self.port, path)

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port():
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
