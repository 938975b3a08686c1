"""Remote diagnostics (TR-143 through TR-181's IP.Diagnostics and DNS.Diagnostics objects).

The daemon's side of it, in three pieces:
  rules.py   what a SetParameterValues does to a test (request, cancel, reset), what a
             finished test writes into the model and the Inform event it raises; no I/O.
  runner.py  runs each test in a worker thread, at most one per kind, and hands results
             back through a pipe the daemon's select() loop watches.
  service.py one device's tests between its model, its session-end actions and the loop.
  defaults() values the model starts with: the SHOULD defaults of TR-181 and what this
             device supports (the *Supported flags, transports and limits), probed here
             (icmp_method, find_program) so that a daemon that runs no test loads no more.
The tests themselves (ping.py, traceroute.py, transfer.py, nslookup.py, udpecho.py,
serverselection.py) take their TR-181 inputs as {relative name: wire string} and return
results the same way, table rows as "RouteHops.1.Host"; imported when a test starts.
"""

STATE = "DiagnosticsState"
# Where find_program looks after $PATH (and the PATH the programs run with).
PROGRAM_PATH = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")

# kind (the object's own name) -> its object path
OBJECTS = {
    "IPPing": "Device.IP.Diagnostics.IPPing.",
    "TraceRoute": "Device.IP.Diagnostics.TraceRoute.",
    "DownloadDiagnostics": "Device.IP.Diagnostics.DownloadDiagnostics.",
    "UploadDiagnostics": "Device.IP.Diagnostics.UploadDiagnostics.",
    "UDPEchoDiagnostics": "Device.IP.Diagnostics.UDPEchoDiagnostics.",
    "ServerSelectionDiagnostics": "Device.IP.Diagnostics.ServerSelectionDiagnostics.",
    "NSLookupDiagnostics": "Device.DNS.Diagnostics.NSLookupDiagnostics.",
}

# kind -> (module, function): fn(inputs, cancel, clock=..., device=None) -> results
_TESTS = {
    "IPPing": ("ping", "run"),
    "TraceRoute": ("traceroute", "run"),
    "DownloadDiagnostics": ("transfer", "download"),
    "UploadDiagnostics": ("transfer", "upload"),
    "UDPEchoDiagnostics": ("udpecho", "run"),
    "ServerSelectionDiagnostics": ("serverselection", "run"),
    "NSLookupDiagnostics": ("nslookup", "run"),
}

_IP = "Device.IP.Diagnostics."
# TR-181's "by default the CPE SHOULD set this value to ..." (descriptions, not XML
# defaults), and timeouts where the model's own default (1 ms, 0) would measure nothing.
_SHOULD = {
    "IPPing.": {"NumberOfRepetitions": "3", "Timeout": "1000", "DataBlockSize": "56"},
    "TraceRoute.": {"NumberOfTries": "3", "Timeout": "5000", "DataBlockSize": "38",
                    "MaxHopCount": "30"},
    "DownloadDiagnostics.": {"DownloadTransports": "HTTP", "DownloadDiagnosticMaxConnections": "8",   # common.MAX_CONNECTIONS
                             "DownloadDiagnosticsMaxIncrementalResult": "100"},
    "UploadDiagnostics.": {"UploadTransports": "HTTP", "UploadDiagnosticsMaxConnections": "8",
                           "UploadDiagnosticsMaxIncrementalResult": "100"},
    "UDPEchoDiagnostics.": {"Timeout": "1000", "DataBlockSize": "24", "InterTransmissionTime": "1000"},
    "ServerSelectionDiagnostics.": {"Timeout": "1000"},
}


def test(kind):
    """The function that runs a test of `kind` (its module imported now)."""
    module, name = _TESTS[kind]
    mod = __import__("%s.%s" % (__name__, module), fromlist=[name])
    return getattr(mod, name)


def defaults(probe=True):
    """{path: value} for the model's product defaults: the SHOULD values and, with `probe`,
    what this process can run (an ICMP socket or a ping/traceroute program for the ICMP
    tests; IPv6 where the interpreter has it)."""
    import socket
    out = {_IP + obj + name: v for obj, values in _SHOULD.items() for name, v in values.items()}
    out["Device.DNS.Diagnostics.NSLookupDiagnostics.Timeout"] = "5000"
    out["Device.DNS.Diagnostics.NSLookupDiagnostics.NumberOfRepetitions"] = "1"
    if not probe:
        return out
    v6 = socket.has_ipv6
    for version, family, on in (("IPv4", socket.AF_INET, True), ("IPv6", socket.AF_INET6, v6)):
        icmp_ok = on and icmp_method(family) is not None
        out[_IP + version + "PingSupported"] = _bool(icmp_ok or (on and find_program("ping")))
        out[_IP + version + "TraceRouteSupported"] = _bool(icmp_ok or (on and find_program("traceroute")))
        for name in ("DownloadDiagnostics", "UploadDiagnostics", "UDPEchoDiagnostics",
                     "ServerSelectionDiagnostics"):
            out[_IP + version + name + "Supported"] = _bool(on)
    out[_IP + "IPLayerCapacitySupported"] = "false"
    return out


def icmp_method(family):
    """"raw", "dgram" or None: the ICMP socket this process may open for `family`."""
    import socket
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    for kind, sock_type in (("raw", socket.SOCK_RAW), ("dgram", socket.SOCK_DGRAM)):
        try:
            socket.socket(family, sock_type, proto).close()
            return kind
        except OSError:
            continue
    return None


def find_program(name, path=None):
    """The full path of the program `name` ($PATH, or `path`, then PROGRAM_PATH), or None."""
    import os
    dirs = (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep)
    for d in [d for d in dirs if d] + list(PROGRAM_PATH):
        full = os.path.join(d, name)
        if os.path.isfile(full) and os.access(full, os.X_OK):
            return full
    return None


def _bool(value):
    return "true" if value else "false"


def interface_device(values, ref):
    """The network device a test's Interface parameter names: None for an empty Interface
    (the routing table decides), "" for a reference without a Name (the test fails)."""
    ref = (ref or "").rstrip(".")
    if not ref:
        return None
    return values.get(ref + ".Name", "")
