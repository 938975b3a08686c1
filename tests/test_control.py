"""The control channel: the daemon's Server in a select loop, the CLI's request() against it."""

import io
import json
import os
import select
import socket
import stat
import threading

import pytest

from tr069client import control, log

T0 = 500.0


def echo(request):
    if request.get("cmd") == "boom":
        raise RuntimeError("bug in a command")
    if request.get("cmd") == "set":
        return {"ok": False, "error": "unknown setting %s" % request["items"][0][0]}
    return {"ok": True, "got": request}


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "control.sock")


@pytest.fixture
def server(path):
    srv = control.Server(path, echo, max_clients=3, timeout=5.0,
                         clock=lambda: pytest.fail("the server must use the loop's time"))
    yield srv
    srv.close()


def turn(srv, now=T0, timeout=0.05):
    r, w, _ = select.select(srv.readable(), srv.writable(), [], timeout)
    return srv.handle(r, now)


class Background:
    """The daemon's loop in a thread, so the blocking request() can be tested against it."""

    def __init__(self, srv):
        self.srv, self.stop = srv, threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            turn(self.srv)

    def close(self):
        self.stop.set()
        self.thread.join()


_OPEN = []


@pytest.fixture(autouse=True)
def _close_test_sockets():
    yield
    while _OPEN:
        _OPEN.pop().close()


def raw(path):
    """A test client connected to the control socket (closed at teardown)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    _OPEN.append(sock)
    sock.connect(path)
    sock.setblocking(False)
    return sock


def read_line(srv, sock, now=T0, count=1):
    """Turn the loop until `sock` got `count` lines (or EOF); the line(s) without newlines."""
    buf = b""
    for _ in range(400):
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            turn(srv, now)
            continue
        except ConnectionResetError:
            data = b""
        if not data:
            return buf or None
        buf += data
        if buf.count(b"\n") >= count:
            lines = buf.split(b"\n")
            return lines[0] if count == 1 else lines[:count]
    raise AssertionError("no reply")


def is_closed(srv, sock, now=T0):
    for _ in range(400):
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            turn(srv, now)
            continue
        except ConnectionResetError:
            return True
        if not data:
            return True
    return False


def test_round_trip_through_request(server, path):
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    bg = Background(server)
    try:
        assert control.request(path, {"cmd": "inform"}) == {"ok": True, "got": {"cmd": "inform"}}
        reply = control.request(path, {"cmd": "set", "items": [["acs-url", "http://x"]]})
        assert reply == {"ok": False, "error": "unknown setting acs-url"}
        big = {"cmd": "status", "pad": "x" * 60000}
        assert control.request(path, big)["got"] == big
    finally:
        bg.close()


def test_several_lines_on_one_connection(server, path):
    sock = raw(path)
    sock.sendall(b'{"cmd": "a"}\n\n{"cmd": "b"}\n')
    a, b = read_line(server, sock, count=2)
    assert json.loads(a) == {"ok": True, "got": {"cmd": "a"}}
    assert json.loads(b) == {"ok": True, "got": {"cmd": "b"}}
    sock.close()


@pytest.mark.parametrize("line", [b"not json", b"[1, 2]", b'"text"', b"\xff\xfe{}"])
def test_malformed_line_gets_bad_request(server, path, line):
    sock = raw(path)
    sock.sendall(line + b"\n")
    assert json.loads(read_line(server, sock)) == {"ok": False, "error": "bad request"}
    sock.sendall(b'{"cmd": "inform"}\n')  # the connection still works
    assert json.loads(read_line(server, sock))["ok"] is True
    sock.close()


def test_oversized_line_is_refused_and_closed(server, path):
    sock = raw(path)
    sock.setblocking(True)
    sock.sendall(b'{"cmd": "' + b"x" * (70 * 1024))
    sock.setblocking(False)
    reply = read_line(server, sock)
    assert json.loads(reply) == {"ok": False, "error": "request too large"}
    assert is_closed(server, sock)


def test_handler_bug_is_logged_and_the_server_goes_on(server, path, monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(log, "_stream", buf)
    monkeypatch.setattr(log, "_syslog", None)
    sock = raw(path)
    sock.sendall(b'{"cmd": "boom"}\n{"cmd": "inform"}\n')
    boom, inform = read_line(server, sock, count=2)
    assert json.loads(boom) == {"ok": False, "error": "internal error"}
    assert json.loads(inform)["ok"] is True
    assert "control command 'boom' failed: RuntimeError: bug in a command" in buf.getvalue()
    sock.close()


def test_slow_client_dropped_at_deadline(server, path):
    slow = raw(path)
    slow.sendall(b'{"cmd": "inf')
    turn(server, T0)
    turn(server, T0)
    assert server.next_deadline() == T0 + 5.0
    assert server.expire(T0 + 4.0) == 0
    assert server.expire(T0 + 5.0) == 1
    assert server.next_deadline() is None
    assert is_closed(server, slow)


def test_clients_beyond_the_cap_drop_the_oldest(server, path):
    socks = [raw(path) for _ in range(5)]
    for _ in range(3):
        turn(server)
    assert len(server.readable()) == 1 + 3
    assert is_closed(server, socks[0]) and is_closed(server, socks[1])
    socks[4].sendall(b'{"cmd": "inform"}\n')
    assert json.loads(read_line(server, socks[4]))["ok"] is True


def test_stale_socket_file_is_removed(path):
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()  # the file stays, nobody listens: a daemon that was killed
    with pytest.raises(control.NotRunning):
        control.request(path, {"cmd": "status"})
    srv = control.Server(path, echo)
    try:
        sock = raw(path)
        sock.sendall(b'{"cmd": "status"}\n')
        assert json.loads(read_line(srv, sock))["ok"] is True
        sock.close()
    finally:
        srv.close()
    assert not os.path.exists(path)  # close() removes its own file


def test_a_second_daemon_is_refused(server, path):
    with pytest.raises(control.AlreadyRunning):
        control.Server(path, echo)
    sock = raw(path)  # the first one still works
    sock.sendall(b'{"cmd": "x"}\n')
    assert json.loads(read_line(server, sock))["ok"] is True
    sock.close()


def test_a_regular_file_is_not_removed(path):
    with open(path, "w") as f:
        f.write("keep me")
    with pytest.raises(control.ControlError):
        control.Server(path, echo)
    with open(path) as f:
        assert f.read() == "keep me"


def test_not_running_when_there_is_no_socket(path):
    with pytest.raises(control.NotRunning):
        control.request(path, {"cmd": "inform"})
    assert issubclass(control.NotRunning, control.ControlError)


def _fake_daemon(path, answer):
    """A listening socket that replies `answer` (or nothing) to one client, in a thread."""
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(1)
    done = threading.Event()

    def run():
        conn, _ = lsock.accept()
        conn.recv(65536)
        if answer is not None:
            conn.sendall(answer)
        else:
            done.wait(5)  # hold the connection open, silent
        conn.close()

    thread = threading.Thread(target=run)
    thread.start()

    def stop():
        done.set()
        thread.join()
        lsock.close()
    return stop


@pytest.mark.parametrize("answer,message", [
    (b"garbage\n", "bad reply"),
    (b"[]\n", "bad reply"),
    (b'{"ok": true', "closed the connection"),
    (b"x" * (70 * 1024), "too large"),
])
def test_bad_replies_raise_control_error(path, answer, message):
    stop = _fake_daemon(path, answer)
    try:
        with pytest.raises(control.ControlError) as info:
            control.request(path, {"cmd": "status"}, timeout=5.0)
    finally:
        stop()
    assert message in str(info.value)
    assert not isinstance(info.value, control.NotRunning)


def test_no_reply_in_time_raises_control_error(path):
    stop = _fake_daemon(path, None)
    try:
        with pytest.raises(control.ControlError) as info:
            control.request(path, {"cmd": "status"}, timeout=0.2)
    finally:
        stop()
    assert "no reply from the daemon within 0.2 s" in str(info.value)
