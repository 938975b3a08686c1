"""The TR-069 rules of a diagnostic test (TR-181 DiagnosticsState data type): what a
SetParameterValues requests, cancels or resets, what a finished test writes into the model,
and the Inform event it raises; no I/O."""

from .. import events
from . import OBJECTS, STATE
from .common import MAX_CONNECTIONS, url_error

REQUEST, CANCEL, RESET = "request", "cancel", "reset"
_KIND_OF = {path: kind for kind, path in OBJECTS.items()}


def kind_of(path):
    """The kind of test whose object holds `path` (parameter or row), or None."""
    for obj, kind in _KIND_OF.items():
        if path.startswith(obj):
            return kind
    return None


def on_set(names, values):
    """{kind: REQUEST | CANCEL | RESET} for one applied SetParameterValues: `names` are
    the paths it set, `values` the model's values after it.

    TR-181 DiagnosticsState: Requested (with or without other parameters) starts the test
    anew after the session; Canceled stops it; setting any other writable parameter of the
    object stops a requested or running test, and either way the state becomes None."""
    out = {}
    for path in names:
        kind = kind_of(path)
        if kind is None:
            continue
        if path == OBJECTS[kind] + STATE:
            out[kind] = REQUEST if values.get(path) == "Requested" else CANCEL
        else:
            out.setdefault(kind, RESET)
    return out


def changes(kind, action, keys):
    """{path: value, or None to drop it back to its default} that `action` makes, given
    the `keys` the store holds: every result and row goes (TR-181: all instances are removed
    when DiagnosticsState is set to Requested or None); CANCEL and RESET also write None."""
    obj = OBJECTS[kind]
    out = {k: None for k in keys if k.startswith(obj) and k[len(obj):] not in _inputs_of(kind)}
    out.pop(obj + STATE, None)
    if action != REQUEST:
        out[obj + STATE] = "None"
    return out


def inputs(kind, values):
    """The test's inputs, {relative name: value}, from the model's `values`."""
    obj = OBJECTS[kind]
    return {name: values.get(obj + name, "") for name in _inputs_of(kind) if name != STATE}


def on_result(kind, results, keys):
    """({path: value or None}, event) for a test's `results`: the previous results go,
    the new ones come, and "8 DIAGNOSTICS COMPLETE" is raised (TR-181 DiagnosticsState:
    completed successfully or not; a canceled test never reaches here)."""
    obj = OBJECTS[kind]
    out = changes(kind, REQUEST, keys)
    out.update((obj + name, value) for name, value in results.items())
    out.setdefault(obj + STATE, "Error_Internal")
    return out, events.DIAGNOSTICS_COMPLETE


def on_boot(values):
    """The kinds whose state says Requested at start: a request the restart interrupted,
    run again (TR-181: results survive only if kept, so a lost run starts over)."""
    return [kind for kind, obj in OBJECTS.items() if values.get(obj + STATE) == "Requested"]


def refuse(path, value):
    """Why an SPV of `path` to `value` is refused (a 9007 fault's sentence), or None: TR-181
    wants inconsistent test parameters caught by the SPV that sets them."""
    kind = kind_of(path)
    name = path[len(OBJECTS[kind]):] if kind else ""
    if name in ("DownloadURL", "UploadURL") and value:
        return url_error(value)
    if name == "NumberOfConnections" and value.isdigit():
        if int(value) > MAX_CONNECTIONS:
            return "NumberOfConnections is at most %d on this device" % MAX_CONNECTIONS
    return None


# The writable parameters of each test object (the inputs), from TR-181 2.19. Kept here
# rather than read from the metadata so the rules stay a pure table; tests check them
# against tr181.json.
_INPUTS = {
    "IPPing": "Interface ProtocolVersion Host NumberOfRepetitions Timeout DataBlockSize DSCP",
    "TraceRoute": "Interface ProtocolVersion Host NumberOfTries Timeout DataBlockSize DSCP MaxHopCount",
    "DownloadDiagnostics": "Interface DownloadURL DSCP EthernetPriority TimeBasedTestDuration "
                           "TimeBasedTestMeasurementInterval TimeBasedTestMeasurementOffset "
                           "ProtocolVersion NumberOfConnections EnablePerConnectionResults",
    "UploadDiagnostics": "Interface UploadURL DSCP EthernetPriority TestFileLength TimeBasedTestDuration "
                         "TimeBasedTestMeasurementInterval TimeBasedTestMeasurementOffset "
                         "ProtocolVersion NumberOfConnections EnablePerConnectionResults",
    "UDPEchoDiagnostics": "Interface Host Port NumberOfRepetitions Timeout DataBlockSize DSCP "
                          "InterTransmissionTime ProtocolVersion",
    "ServerSelectionDiagnostics": "Interface ProtocolVersion Protocol HostList NumberOfRepetitions Timeout",
    "NSLookupDiagnostics": "Interface HostName DNSServer Timeout NumberOfRepetitions",
}
_INPUT_SETS = {kind: frozenset(names.split()) | {STATE} for kind, names in _INPUTS.items()}


def _inputs_of(kind):
    return _INPUT_SETS[kind]
