"""What every diagnostic test shares: cancellation, the clock, reading inputs, resolving the
target and preparing sockets."""

import errno
import os
import re
import socket
import time


MAX_CONNECTIONS = 8   # Download/UploadDiagnosticMaxConnections


class Failure(Exception):
    """The test ended in the TR-181 error `state` (Error_CannotResolveHostName, ...)."""

    def __init__(self, state, message=""):
        Exception.__init__(self, message or state)
        self.state = state


class Canceled(Exception):
    """The test was canceled: it produces no result."""


class Clock:
    """Wall time for the TR-143 timestamps, monotonic time for durations."""
    wall = staticmethod(time.time)
    mono = staticmethod(time.monotonic)


CLOCK = Clock()


class Cancel:
    """Set from the loop thread to stop a test: waits end at once, and the sockets and
    processes a test registered are shut down so a blocked read returns."""

    def __init__(self):
        import threading   # loaded only once a test runs
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._closers = {}
        self._next = 0

    def set(self):
        with self._lock:
            self._event.set()
            closers, self._closers = list(self._closers.values()), {}
        for fn in closers:
            try:
                fn()
            except OSError:
                pass

    def is_set(self):
        return self._event.is_set()

    def check(self):
        if self._event.is_set():
            raise Canceled()

    def wait(self, seconds):
        """Sleep up to `seconds`; raise Canceled if canceled meanwhile."""
        if seconds > 0 and self._event.wait(seconds):
            raise Canceled()
        self.check()

    def on_cancel(self, fn):
        """Call `fn()` if the test is canceled; returns a key for forget()."""
        with self._lock:
            if self._event.is_set():
                key = None
            else:
                self._next += 1
                key = self._next
                self._closers[key] = fn
        if key is None:
            fn()
            raise Canceled()
        return key

    def forget(self, key):
        with self._lock:
            self._closers.pop(key, None)


def shutdown(sock):
    """A closer for on_cancel(): a read blocked on `sock` in another thread returns."""
    return lambda: sock.shutdown(socket.SHUT_RDWR)


def timestamp(wall):
    """TR-143 dateTime, UTC to the microsecond: 2008-04-09T15:01:05.123456Z."""
    seconds = int(wall)
    micro = int(round((wall - seconds) * 1e6))
    if micro >= 1000000:
        seconds, micro = seconds + 1, micro - 1000000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".%06dZ" % micro


def number(inputs, name, default, low=None, high=None):
    """The unsignedInt input `name` (a wire string), `default` when missing or empty,
    clamped to [low, high]."""
    text = inputs.get(name, "")
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = default
    if low is not None:
        value = max(low, value)
    if high is not None:
        value = min(high, value)
    return value


def millis(seconds):
    """Milliseconds for a response-time result: a response under 1 ms counts as 1
    (TR-181 RouteHops.{i}.RTTimes)."""
    return max(1, int(round(seconds * 1000)))


class Times:
    """Count, minimum, maximum and mean of response times (seconds), in constant memory."""

    def __init__(self):
        self.count, self.total, self.low, self.high = 0, 0.0, None, None

    def add(self, seconds):
        self.count += 1
        self.total += seconds
        self.low = seconds if self.low is None else min(self.low, seconds)
        self.high = seconds if self.high is None else max(self.high, seconds)

    def mean(self):
        return self.total / self.count if self.count else None


_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z")


def is_address(text):
    """Whether `text` is an IPv4 or IPv6 address."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
            return True
        except (OSError, ValueError):
            pass
    return False


def host_ok(host):
    """Whether `host` is an IP address or a DNS name: nothing an option parser or a
    shell could read as anything else."""
    if not host or len(host) > 253 or host.startswith("-"):
        return False
    if is_address(host):
        return True
    try:
        ascii_name = host.encode("ascii")
    except UnicodeEncodeError:
        try:
            ascii_name = host.encode("idna")
        except UnicodeError:
            return False
    labels = ascii_name.decode("ascii").rstrip(".").split(".")
    return all(_LABEL.match(label) for label in labels)


_FAMILIES = {"IPv4": socket.AF_INET, "IPv6": socket.AF_INET6}


def resolve(host, version="Any", kind=socket.SOCK_DGRAM, error="Error_CannotResolveHostName"):
    """(family, address) of `host` for ProtocolVersion `version`; Failure(`error`) otherwise."""
    if not host_ok(host):
        raise Failure(error, "not a host name or address: %r" % host)
    from ..connection import ascii_host
    family = _FAMILIES.get(version, socket.AF_UNSPEC)
    try:
        infos = socket.getaddrinfo(ascii_host(host), None, family, kind)
    except (socket.gaierror, UnicodeError) as e:
        raise Failure(error, "cannot resolve %s: %s" % (host, e))
    for fam, _, _, _, addr in infos:
        if fam in (socket.AF_INET, socket.AF_INET6):
            return fam, addr[0]
    raise Failure(error, "no address for %s" % host)


def prepare(sock, family, inputs, device=None):
    """Apply DSCP (IP_TOS / IPV6_TCLASS), EthernetPriority (SO_PRIORITY) and the
    interface (SO_BINDTODEVICE) to `sock` before it sends anything."""
    dscp = number(inputs, "DSCP", 0, 0, 63)
    if dscp:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, dscp << 2)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
    priority = number(inputs, "EthernetPriority", 0, 0, 7)
    if priority:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY, priority)
    if device == "":
        raise Failure("Error_Internal", "the Interface names no network device")
    if device:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode() + b"\0")
        except OSError as e:
            raise Failure("Error_Internal", "cannot use the interface %s: %s" % (device, e.strerror))


def source_address(family, address, device=None):
    """The local address the kernel picks to reach `address` (nothing is sent)."""
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if device is not None:
            prepare(s, family, {}, device)
        s.connect((address, 9))
        return s.getsockname()[0]
    except OSError as e:
        if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
            raise Failure("Error_NoRouteToHost", "no route to %s" % address)
        raise
    finally:
        s.close()


def counters(device, root="/"):
    """(bytes received, bytes sent) of the network device, or (0, 0) without one: TR-181
    says TotalBytes* cannot be determined and SHOULD be 0 when Interface is empty."""
    if not device:
        return 0, 0
    out = []
    for name in ("rx_bytes", "tx_bytes"):
        try:
            with open(os.path.join(root, "sys/class/net", device, "statistics", name)) as f:
                out.append(int(f.read().strip() or 0))
        except (OSError, ValueError):
            out.append(0)
    return tuple(out)


def url_error(url):
    """Why `url` cannot be a transfer test's URL (None if it can): TR-143 over HTTP, and
    no HTTP authentication."""
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(url)
        parts.port
    except ValueError:
        return "%r is not a URL" % url
    if parts.scheme != "http" or not parts.hostname:
        return "%r is not an http:// URL (the transports offered are HTTP)" % url
    if parts.username is not None:
        return "TR-143 tests use no HTTP authentication: no user in the URL"
    return None
