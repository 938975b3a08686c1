"""The engine under fuzzing and the invariants it must keep (tools/fuzz_engine.py drives them):
an Engine is one CPE (model over an in-memory store, transfer queue, every RPC the daemon has);
the checks judge what the CPE sends and the state it keeps, and return lists of problems."""

import json
import os
import re
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (REPO, HERE, os.path.join(REPO, "tests")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import _engine  # noqa: E402
import cwmp_schema  # noqa: E402
from fuzz_messages import SECRET  # noqa: E402
from tr069client import datatypes, device, metadata, redact, settings, soap  # noqa: E402
from tr069client.model import Model  # noqa: E402
from tr069client.provider import Provider  # noqa: E402
from tr069client.session import CpeRequest, transfer_complete  # noqa: E402
from tr069client.store import Store, decode  # noqa: E402

_BARE_AMP = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")
_TOKENS = re.compile(rb"(<[^>]*>)")
_DATETIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
_METHOD = re.compile(rb"<SOAP-ENV:Body>(?:<cwmp:(\w+)|<SOAP-ENV:(Fault))")
_CODE = re.compile(rb"<FaultCode>(\d+)</FaultCode>")


T0 = 1.8e9   # the wall clock of an engine's first session
IDENTITY = {"manufacturer": "Acme", "oui": "00D0C9", "product-class": "Router", "serial-number": "SN0001"}
CONFIG = dict({name: ["true"] for name in ("firmware-command", "config-alter-command", "config-overwrite-command",
                                            "vendor-config-command", "vendor-log-command")},
              # No reboot-command (its default is the real `reboot`): a Reboot fails, as it may.
              **{"platform-providers": False, "download-dir": "/nonexistent", "reboot-command": []})
RESULTS = ["Complete", "Error_Internal", "Error_Other"]   # DiagnosticsStates every test object has


class FlakyStore(Store):
    """An in-memory store whose every `fail_every`th save fails, as a full flash does; `disk`
    holds what the last save that worked wrote (what a power cut leaves)."""

    def __init__(self, fail_every=0):
        Store.__init__(self)
        self.fail_every, self.saves = fail_every, 0
        self.disk = self.encode()

    def save(self):
        self.disk = self.encode()
        Store.save(self)

    def save_now(self):
        self.saves += 1
        if self.fail_every and self.saves % self.fail_every == 0:
            return "cannot write state.json: No space left on device"
        return Store.save_now(self)

    def after_power_cut(self):
        """A store over what this one last saved: what the next start reads."""
        store = FlakyStore(self.fail_every)
        store.values, store.attrs, store.state = decode(self.disk)
        store.disk = self.disk
        return store


class FakeRunner:
    """The diagnostics runner, synchronous and without I/O: each test started ends at the next
    tick with one of RESULTS."""

    def __init__(self):
        self.started, self.done = {}, []

    def start(self, kind, inputs, device=None):
        self.started[kind] = dict(inputs)

    def cancel(self, kind):
        return self.started.pop(kind, None) is not None

    def running(self):
        return list(self.started)

    def fds(self):
        return [-1] if self.started else []

    def collect(self):
        out = [(kind, {"DiagnosticsState": RESULTS[len(inputs) % len(RESULTS)]}, "")
               for kind, inputs in sorted(self.started.items())]
        self.started.clear()
        return out

    def close(self):
        self.started.clear()


class Engine:
    """One CPE as the daemon builds it (device.Device: model, planner and its EventQueue,
    transfer queue, operations, diagnostics on a FakeRunner) over an in-memory store, started
    in boot `boot`; with `fail_every`, every so many saves of the store fail."""

    def __init__(self, fail_every=0, store=None, boot=1):
        self.store = store if store is not None else FlakyStore(fail_every)
        self.boot, self.clock, self.stopped = boot, T0, False
        self.device = device.Device(self.store, CONFIG, IDENTITY, random=lambda: 0.5, commit=self.store.save_now)
        self.device.model.providers.append(Provider("Device.DeviceInfo.", lambda m: dict(_engine.IDENTITY)))
        self.device.diagnostics.runner = FakeRunner()
        self.device.stop = self._stop
        self.model, self.planner, self.handlers = self.device.model, self.device.planner, self.device.handlers
        self.queue = self.device.transfers
        settings.put(self.model, "acs-url", "http://acs.example/cwmp")
        self.device.start("boot-%d" % boot, 0.0, self.clock)
        self.store.save()   # as the daemon does once started (FlakyStore fails only save_now)

    def _stop(self):
        self.stopped = True

    def session(self, plan):
        """The engine's Session for `plan`: {"ns", "events", "cpe": [[key, fault code, text]]}."""
        requests = [CpeRequest("TransferComplete", transfer_complete(k, c, t, "2026-01-01T00:00:00Z",
                                                                     "2026-01-01T00:01:00Z"), ("t", i))
                    for i, (k, c, t) in enumerate(plan["cpe"])]
        return _engine.make_session(self.model, events=[tuple(e) for e in plan["events"]], handlers=self.handlers,
                                    ns=plan["ns"], commit=self.store.save_now, cpe_requests=requests)

    def end(self, s):
        """What the daemon does once the session `s` has ended: the planner records it, its actions
        run (the late ones too), finished diagnostics write their results. The Engine to go on
        with: this one, or the next start's if an action stopped the daemon (FactoryReset)."""
        self.clock += 60
        self.planner.finish(s, "http://acs.example/cwmp", self.clock - T0, self.clock)
        self.device.run(s.actions, self.clock, late=False)
        self.store.save_now()
        self.device.run(s.actions, self.clock, late=True)
        if self.stopped:
            return self.restart(False)   # the supervisor starts the daemon again
        self.device.diagnostics.tick(self.clock - T0, self.clock)
        return self

    def restart(self, new_boot):
        """The Engine of the next start, over what was saved last (in a new boot: a power cut); a
        start that stops again at once (a Reboot or FactoryReset it carried out) starts again."""
        engine = Engine(store=self.store.after_power_cut(), boot=self.boot + 1 if new_boot else self.boot)
        for _ in range(3):
            if not engine.stopped:
                break
            engine = Engine(store=engine.store.after_power_cut(), boot=engine.boot)
        return engine


def secured_names(meta=None):
    """The password parameters of the model."""
    meta = meta or metadata.load()
    return [g.replace("{i}", "1") + n for g in meta.objects for n, p in meta.params_of(g) if p.secured]


def leak_problems(request, sent, lines):
    """[(where, excerpt)] of the passwords of the generator (fuzz_messages.SECRET) in the debug
    trace of `request`, in what the CPE `sent` back, or in the log `lines` written meanwhile."""
    try:
        trace = redact.soap_text(request)
    except Exception as e:   # noqa: B902 - the trace runs inside the session: it must not fail
        return [("the debug trace of a message failed", "%s: %s" % (type(e).__name__, e))]
    texts = [("the debug trace", trace), ("what the CPE sent", sent.decode("utf-8", "replace"))]
    texts += [("the log", line) for line in lines]
    return [("a password shows in " + where, text[max(0, text.index(SECRET) - 200):][:300])
            for where, text in texts if SECRET in text]


def diagnostic_names(meta=None):
    """The writable parameters of the diagnostic test objects (diagnostics.OBJECTS)."""
    from tr069client.diagnostics import OBJECTS
    meta = meta or metadata.load()
    return [obj + n for obj in OBJECTS.values() for n, p in meta.params_of(obj) if p.writable]


def parameter_names(meta=None):
    """Concrete parameter and object paths of the model (instances 1 to 3), for requests."""
    meta = meta or metadata.load()
    out = []
    for g in meta.objects:
        concrete = g.replace("{i}", "1")
        out.append(concrete)
        out.extend(concrete + name for name, _ in meta.params_of(g))
        if "{i}" in g:
            out.append(g.replace("{i}", "2"))
            out.append(g[:g.rindex("{i}")])
    return out


# --- what the CPE sent ------------------------------------------------------------------------

def expected_namespace(session_ns, body):
    """The namespace an answer to `body` goes out in: that of the request's method element, else
    of its ID header, else the session's; None when `body` is no XML (nothing is checked)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        try:
            root = ET.fromstring(_BARE_AMP.sub(b"&amp;", body))
        except ET.ParseError:
            return None
    body_elem = next((c for c in root if c.tag.endswith("}Body") or c.tag == "Body"), None)
    header = next((c for c in root if c.tag.endswith("}Header") or c.tag == "Header"), None)
    spaces = [e.tag[1:].partition("}")[0] for e in list(body_elem if body_elem is not None else ())[:1]]
    spaces += [h.tag[1:].partition("}")[0] for h in (header if header is not None else ()) if h.tag.endswith("}ID")]
    return next((n for n in spaces if n in soap.CWMP_NAMESPACES), session_ns)


def shape(message):
    """A signature of a message's elements, attributes and classes of text: messages of one
    shape are valid or invalid together."""
    out = []
    for i, token in enumerate(_TOKENS.split(message)):
        if i % 2:
            out.append(token)
        elif not token:
            out.append(b"")
        elif token.isdigit():
            out.append(token if len(token) <= 4 else b"d%d" % len(token))
        elif token in (b"true", b"false"):
            out.append(token)
        elif _DATETIME.match(token):
            out.append(b"T")
        else:   # the lengths the schemas bound strings to: 32, 64, 256
            out.append(b"s%d" % sum(len(token) > n for n in (32, 64, 256)))
    return hash(tuple(out))


def answer_problems(want_ns, answer, schemas):
    """What is wrong with a message the CPE sent, which must be in `want_ns` (None: unchecked)."""
    return cwmp_schema.check(answer, schemas) + namespace_problems(want_ns, answer)


def namespace_problems(want_ns, message):
    """What is wrong with the namespace of a message the CPE sent, which must be `want_ns`
    (None: unchecked)."""
    if want_ns and ('xmlns:cwmp="%s"' % want_ns).encode() not in message:
        return ["answered outside %s" % want_ns]
    return []


def label(message):
    """(what the CPE sent, for the outcomes; the method name)."""
    m = _METHOD.search(message)
    method = (m.group(1) or m.group(2)).decode() if m else "?"
    if method == "Fault":
        code = _CODE.search(message)
        return "fault %s" % (code.group(1).decode() if code else "?"), method
    return ("answer " if method.endswith("Response") else "CPE request ") + method, method


# --- the state --------------------------------------------------------------------------------

def _reject(constant):
    raise ValueError("%s is not JSON" % constant)


def store_problems(engine):
    """(What is wrong with the store's encoding, the encoding)."""
    try:
        raw = engine.store.encode()
        json.loads(raw.decode("utf-8"), parse_constant=_reject)
        decode(raw)
    except (TypeError, ValueError) as e:
        return ["the state does not encode to a valid store file: %s: %s" % (type(e).__name__, e)], None
    return [], raw


def model_problems(engine):
    """What is wrong with the model: stored values, attributes, NumberOfEntries."""
    model, meta = engine.model, engine.model.meta
    view = model.values()
    problems = []
    for path, value in engine.store.values.items():
        p = meta.param(metadata.generic(path))
        if p is None:
            problems.append("stored value of %s, which is no parameter" % path)
            continue
        if not model.object_exists(path[:path.rindex(".") + 1]):
            problems.append("stored value of %s, whose object does not exist" % path)
        if value in (p.facets or {}).get("enum_ro", ()):
            continue   # a value only the device sets (DiagnosticsState "None", "Complete")
        try:
            datatypes.normalize(p, value)
        except Exception as e:   # noqa: B902 - a CwmpFault or a bug: either way invalid
            problems.append("stored value of %s is invalid: %s" % (path, getattr(e, "message", e)))
    problems += ["attributes of %s, which does not exist" % path for path in engine.store.attrs if path not in view]
    rows = {}    # table path -> its instance numbers, as the names in the view say
    for k in view:
        for m in _ROW.finditer(k):
            rows.setdefault(k[:m.start() + 1], set()).add(m.group(1))
    counters = _counters(meta)
    for path, value in view.items():
        table = counters.get(metadata.generic(path)) if path.endswith("NumberOfEntries") else None
        if table is not None:
            n = len(rows.get(path[:path.rindex(".") + 1] + table, ()))
            if value != str(n):
                problems.append("%s is %s, the table has %d rows" % (path, value, n))
    return problems


_ROW = re.compile(r"\.([0-9]+)(?=\.)")
_COUNTERS = {}


def _counters(meta):
    """{generic NumberOfEntries path: the table's name relative to the counter's object}."""
    if id(meta) not in _COUNTERS:
        out = {}
        for g in meta.objects:
            obj = meta.object(g)
            if obj.table and obj.num_entries_param:
                table = g[:-4]
                out[obj.num_entries_param] = table[table.rindex(".", 0, -1) + 1:]
        _COUNTERS[id(meta)] = out
    return _COUNTERS[id(meta)]


def reload_problems(engine, raw):
    """Differences between what the model shows and what a model over the store reloaded from
    `raw` (its encoding, as store_problems() returned it) shows."""
    values, attrs, state = decode(raw)
    store = Store()
    store.values, store.attrs, store.state = values, attrs, state
    fresh = Model(store, providers=[Provider("Device.DeviceInfo.", lambda m: dict(_engine.IDENTITY))],
                  defaults=engine.model.product_defaults).values()
    now = engine.model.values()
    diff = sorted(set(fresh.items()) ^ set(now.items()))
    return ["after a reload %s differs (%d parameters): %s" % (diff[0][0], len(diff), ", ".join(
        "%s=%r" % kv for kv in diff[:4]))] if diff else []
