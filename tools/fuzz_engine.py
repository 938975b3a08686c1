#!/usr/bin/env python3
"""Fuzzing the CWMP session engine at scale: sessions in cwmp-1-0, 1-1 and 1-2 whose every ACS
message comes from tools/fuzz_messages.py (requests of every RPC with random argument shapes,
tree and byte mutations of a corpus in the dialects of real ACSs, answers to the Inform and to
the CPE's own requests, ends and HTTP errors), fed to the real engine (model, transfer queue,
Reboot/FactoryReset) with its state in memory.

    python3 tools/fuzz_engine.py [--messages 1000000] [--seed 1] [--workers N] [--sample 0.01]
                                 [--out DIR] [--replay FILE]

Invariants, for every message the engine receives (fuzz_checks.py):
  - no exception escapes Session.receive() or Session.next_post();
  - every message the CPE sends is in the namespace it must be in (checked on all), and valid in
    that namespace's XSD (tests/cwmp_schema.py, its code checks included): checked on every
    message whose shape (elements, attributes, classes of text) is new, and on a random sample
    of the others (--sample; 1 checks them all);
  - no password (the generator writes them all as s3cr3t...) shows in the debug trace of the
    message (redact.py), in what the CPE sends back, or in any line the engine logs (at debug);
  - the store encodes to strict JSON in store.py's format, which store.decode() takes back;
  - the model holds: stored values are known parameters, valid for their type, of rows that
    exist; attributes name parameters that exist; NumberOfEntries counts the rows; and a model
    over the reloaded store shows what this one does. The store is checked after every message;
    the model after every message that changed the store, and every 10th (reloads: 50th) too.
Prints messages, messages/s and wall time, outcomes, and problems grouped by signature (an
exception's: its type and the innermost frame of tr069client), each with a minimised reproducer
written under --out (`--replay FILE` runs it again). Exit status 1 on any problem.
Deterministic for a seed and a number of workers.
"""

import argparse
import base64
import collections
import contextlib
import json
import os
import random
import re
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import fuzz_checks as checks  # noqa: E402 - it puts the repository and tests/ on the path
from fuzz_messages import Messages  # noqa: E402
from tr069client import events as ev  # noqa: E402
from tr069client import log, soap  # noqa: E402

EVENTS = [["0 BOOTSTRAP", ""], ["1 BOOT", ""], ["2 PERIODIC", ""], ["6 CONNECTION REQUEST", ""],
          ["7 TRANSFER COMPLETE", ""], ["M Download", "fw"], ["4 VALUE CHANGE", ""], ["M Reboot", "r"]]
MODEL_EVERY, RELOAD_EVERY = 10, 50
MAX_SESSIONS = 40      # an engine (one CPE) lives 1 to this many sessions: varied state, kept small
MAX_REPLAYS = 400      # replays spent minimising one reproducer
# The transport's budget (soap.LIMITS), and two small ones under which ordinary messages pass a
# limit: refusals (fault 9004 to a request known as one, else the session ends) in every RPC.
LIMITS = [soap.LIMITS,
          soap.LIMITS._replace(size=2048, elements=40, depth=8, attributes=4, namespaces=6, tag=256, text=200,
                               names=30, tree=12 << 10),
          soap.LIMITS._replace(size=8192, elements=150, depth=10, attributes=8, namespaces=8, tag=1024, text=2000,
                               names=60, tree=48 << 10)]
_RPC = re.compile(r"\b(?:[A-Z][a-z]+){2,}\w*|\S*[^\x00-\x7f]\S*")


class Report:
    """What a run found: counters, and problems by signature with their first reproducer."""

    def __init__(self):
        self.messages = 0
        self.outcomes = collections.Counter()
        self.sources = collections.Counter()
        self.counts = collections.Counter()
        self.problems = {}   # signature -> {"kind", "count", "detail", "file"}
        self.cpu = 0.0

    def merge(self, other):
        self.messages += other.messages
        self.cpu += other.cpu
        for mine, theirs in ((self.outcomes, other.outcomes), (self.sources, other.sources),
                             (self.counts, other.counts)):
            mine.update(theirs)
        for sig, p in other.problems.items():
            if sig in self.problems:
                self.problems[sig]["count"] += p["count"]
            else:
                self.problems[sig] = p
        return self


class _Lines:
    """A stream for tr069client.log that keeps the lines in a list."""

    def __init__(self, lines):
        self.lines = lines

    def write(self, text):
        self.lines.append(text)

    def flush(self):
        pass


@contextlib.contextmanager
def _logged(lines):
    """Everything tr069client.log writes, at debug level, goes to `lines` meanwhile."""
    saved = log._level, log._stream, log._syslog
    log.configure("debug", stream=_Lines(lines))
    try:
        yield
    finally:
        log._level, log._stream, log._syslog = saved


def _signature(problem):
    """A problem's text without its particulars (numbers, quoted values)."""
    return re.sub(r"\d+", "N", re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", problem))[:200]


def _exception_signature(e):
    frames = traceback.extract_tb(e.__traceback__)
    ours = [f for f in frames if os.sep + "tr069client" + os.sep in f.filename] or frames[-1:]
    where = "%s.%s" % (os.path.basename(ours[-1].filename)[:-3], ours[-1].name) if ours else "?"
    return "%s in %s" % (type(e).__name__, where)


class Runner:
    """Plays sessions on engines and judges everything; `found` collects (kind, signature, detail)
    of the current message."""

    def __init__(self, schemas, sample, rng, report=None):
        self.schemas, self.sample, self.rng = schemas, sample, rng
        self.report = report or Report()
        self.shapes = {}
        self.found = []
        self.saved = None   # the store's encoding at the last check
        self.lines = []     # what the engine logged since the last message

    def play(self, engine, plan, next_message, limit=None):
        """One session of `plan` on `engine`, the ACS's messages from next_message(position, ns,
        method) (None: stop), recorded in plan["steps"], each read by a soap.Reader within the
        budget plan["limits"] names, as the transport reads it; then what the daemon does at the
        session's end, or a power cut (plan["cut"]). (False if an exception escaped, the engine
        to go on with.)"""
        report = self.report
        session_ns = plan["ns"]
        limits = LIMITS[plan.get("limits", 0)]
        try:
            s = engine.session(plan)
            post = s.next_post()
        except Exception as e:   # noqa: B902 - any exception is the bug this looks for
            return self._escaped(e), engine
        position, method = "inform", "Inform"
        self._judge(plan["ns"], b"".join(post))
        while post is not None and (limit is None or report.messages < limit):
            source, msg = next_message(position, session_ns, method)
            if msg is None:
                break
            plan["steps"].append(msg)
            try:
                _receive(s, msg, limits)
                post = s.next_post()
            except Exception as e:   # noqa: B902
                return self._escaped(e), engine
            report.messages += 1
            report.sources["%s: %s" % (position, source)] += 1
            self._leaks(msg[2], b"".join(post) if post else b"")
            if position == "inform" and post is not None:   # its namespace becomes the session's
                session_ns = checks.expected_namespace(session_ns, msg[2]) or session_ns
            if post is None:
                report.outcomes["session done" if s.ok else "session failed: " + _signature(_RPC.sub(
                    "<RPC>", (s.error or "").split(":")[0].split(" (")[0]))] += 1
            elif post == b"":
                report.outcomes["empty POST"] += 1
                position = "acs"
            else:
                answer = b"".join(post)
                what, method = checks.label(answer)
                report.outcomes[what] += 1
                if what.startswith("CPE request"):
                    position, want = "cpe", session_ns
                else:
                    position, want = "acs", checks.expected_namespace(session_ns, msg[2])
                self._judge(want, answer)
            self._state(engine)
        try:
            if plan.get("cut"):
                engine = self._power_cut(engine, s, plan["cut"] == "new boot")
            else:
                engine = engine.end(s)
                for a in s.actions:
                    report.counts["actions run: " + type(a).__name__] += 1
        except Exception as e:   # noqa: B902
            return self._escaped(e), engine
        self._state(engine)
        return True, engine

    def _power_cut(self, engine, s, new_boot):
        """Cut the power (or kill the daemon) before the session's end: the next start must carry
        out every ScheduleInform, Reboot and FactoryReset the ACS heard accepted."""
        counts = self.report.counts
        counts["power cuts" if new_boot else "kills"] += 1
        after = engine.restart(new_boot)
        acted = list(s.actions)
        resets = [i for i, a in enumerate(acted) if type(a).__name__ == "FactoryReset"]
        state, events = after.store.state, set(map(tuple, after.planner.events.items))
        if resets:
            counts["carried out after a cut: FactoryReset"] += 1
            if ("0 BOOTSTRAP", "") not in events:
                self.found.append(("lost", "a FactoryReset answered before a cut did not happen",
                                   "events after the restart: %r" % sorted(events)))
        for a in acted[resets[-1] + 1 if resets else 0:]:
            name = type(a).__name__
            if name == "ScheduleInform":
                lost = len(state.get("scheduled", ())) < ev.MAX_EVENTS and \
                    a.command_key not in [k for _, k in state.get("scheduled", ())]
            elif name == "Reboot":
                lost = len(events) < ev.MAX_EVENTS and ("M Reboot", a.command_key) not in events and \
                    not (not new_boot and "reboot-command" in state.get("operation_error", ""))
            else:
                continue
            counts["carried out after a cut: " + name] += 1
            if lost:
                self.found.append(("lost", "a %s answered before a cut was lost" % name,
                                   "%r; state after the restart: %r" % (a, {k: state.get(k) for k in (
                                       "scheduled", "events", "operation_error", "deferred")})))
        if after.store.state.get("deferred"):
            self.found.append(("lost", "held actions are still held after a start",
                               repr(after.store.state["deferred"])))
        return after

    def _leaks(self, request, sent):
        self.report.counts["leak checks"] += 1
        self.found += [("password shown", where, "%s: ...%s" % (where, excerpt))
                       for where, excerpt in checks.leak_problems(request, sent, self.lines)]
        del self.lines[:]

    def _escaped(self, e):
        self.found.append(("exception", _exception_signature(e), traceback.format_exc()))
        return False

    def _judge(self, want, message):
        counts = self.report.counts
        counts["messages the CPE sent"] += 1
        key = checks.shape(message)
        problems = self.shapes.get(key)
        if problems is None or self.rng.random() < self.sample:
            counts["validated: new shape" if problems is None else "validated: sample"] += 1
            problems = self.shapes[key] = checks.answer_problems(None, message, self.schemas)
        problems = problems + checks.namespace_problems(want, message)
        for p in problems:
            self.found.append(("invalid message", _signature(p), "%s\nmessage: %s" % (
                p, message[:3000].decode("utf-8", "replace"))))

    def _state(self, engine):
        # The store on every message; the model after every change of the store, and now and then.
        counts = self.report.counts
        counts["store checks"] += 1
        problems, raw = checks.store_problems(engine)
        changed, self.saved = raw != self.saved, raw
        if changed or counts["store checks"] % MODEL_EVERY == 0:
            counts["model checks"] += 1
            problems += checks.model_problems(engine)
        if raw is not None and (changed or counts["store checks"] % RELOAD_EVERY == 0):
            counts["reload checks"] += 1
            problems += checks.reload_problems(engine, raw)
        self.found += [("state", _signature(p), p) for p in problems]


def _receive(s, msg, limits):
    """Give the session `s` the ACS's answer `msg` as http_session does: fed to a soap.Reader
    as it arrives; a budget passed before the message is known to be a request ends the session."""
    status, headers, body = msg
    reader = soap.Reader(limits)
    try:
        for i in range(0, len(body), 4096):
            reader.feed(body[i:i + 4096])
    except soap.OverBudget as e:
        s.abort(str(e))
        return
    s.receive(status, headers, reader)


def fuzz(seed=1, count=1000, sample=0.01, schemas=None, out=None):
    """Feed `count` fuzzed ACS messages to engines; the Report (reproducers under `out`)."""
    started = time.process_time()
    schemas = checks.cwmp_schema.load_schemas() if schemas is None else schemas
    rng = random.Random(seed)
    gen = Messages(rng, checks.parameter_names(), checks.secured_names(), checks.diagnostic_names())
    runner = Runner(schemas, sample, rng)
    pick = {"inform": lambda ns, m: gen.inform_answer(ns), "cpe": gen.cpe_request_answer,
            "acs": lambda ns, m: gen.acs_turn(ns)}
    report = runner.report
    engine = None
    with _logged(runner.lines):
        while report.messages < count:
            if engine is None or not left:
                fail_every = rng.choice([0, 0, 0, 1, 2, 5])
                engine, trail, left = checks.Engine(fail_every), [], rng.randint(1, MAX_SESSIONS)
                report.counts["engines (CPEs)"] += 1
            left -= 1
            plan = {"fail_every": fail_every, "ns": rng.choice(soap.CWMP_NAMESPACES),
                    "events": rng.sample(EVENTS, rng.randint(1, 3)),
                    "cpe": [[rng.choice(["fw", "", "k" * 32]), rng.choice([0, 9010, 9018, 9803, 9999]),
                             rng.choice(["", "failed"])] for _ in range(rng.choice([0, 0, 0, 1, 2]))],
                    "limits": rng.choice([0] * 8 + [1, 2]),
                    "cut": rng.choice([None] * 18 + ["new boot", "same boot"]), "steps": []}
            trail.append(plan)
            report.counts["sessions"] += 1
            report.counts["small budget"] += plan["limits"] > 0
            alive, engine = runner.play(engine, plan, lambda pos, ns, m: pick[pos](ns, m), count)
            for kind, sig, detail in runner.found:
                _record(report, kind, sig, detail, trail, schemas, out)
            if runner.found or not alive:   # a new CPE: one problem must not cascade
                engine = None
            runner.found = []
    report.cpu = time.process_time() - started
    return report


def _record(report, kind, sig, detail, trail, schemas, out):
    p = report.problems.get(sig)
    if p is not None:
        p["count"] += 1
        return
    p = report.problems[sig] = {"kind": kind, "count": 1, "detail": detail, "file": None}
    if out:
        sessions = minimise(trail, sig, schemas)
        os.makedirs(out, exist_ok=True)
        p["file"] = os.path.join(out, "%s-%d.json" % (kind.split()[0], len(report.problems)))
        with open(p["file"], "w") as f:
            json.dump({"kind": kind, "signature": sig, "detail": detail, "sessions": _encode(sessions)}, f, indent=1)


def replay(sessions, schemas):
    """Play recorded sessions on a new engine, validating everything; the (kind, signature, detail) found."""
    runner = Runner(schemas, 1.0, random.Random(0))
    engine = checks.Engine(sessions[0].get("fail_every", 0) if sessions else 0)
    with _logged(runner.lines):
        for plan in sessions:
            steps = list(plan["steps"])
            feed = dict(plan, steps=[])
            alive, engine = runner.play(engine, feed, lambda pos, ns, m: ("replay", steps.pop(0) if steps else None))
            if not alive:
                break
    return runner.found


def minimise(trail, sig, schemas):
    """The shortest sessions found (earlier sessions, then steps, then bytes of the last message
    dropped while `sig` still shows) that reproduce `sig`."""
    sessions = [dict(p, steps=list(p["steps"])) for p in trail]
    budget = [MAX_REPLAYS]

    def shows(candidate):
        if budget[0] <= 0:
            return False
        budget[0] -= 1
        return any(s == sig for _, s, _ in replay(candidate, schemas))

    if not shows(sessions):
        return sessions
    i = 0
    while i < len(sessions) - 1:
        if shows(sessions[:i] + sessions[i + 1:]):
            sessions = sessions[:i] + sessions[i + 1:]
        else:
            i += 1
    last = sessions[-1]
    i = 0
    while i < len(last["steps"]) - 1:
        candidate = dict(last, steps=last["steps"][:i] + last["steps"][i + 1:])
        if shows(sessions[:-1] + [candidate]):
            last = sessions[-1] = candidate
        else:
            i += 1
    if last["steps"]:
        status, headers, body = last["steps"][-1]
        chunk = max(1, len(body) // 2)
        while chunk >= 1 and budget[0] > 0:
            start, cut = 0, False
            while start < len(body):
                smaller = body[:start] + body[start + chunk:]
                if shows(sessions[:-1] + [dict(last, steps=last["steps"][:-1] + [(status, headers, smaller)])]):
                    body, cut = smaller, True
                else:
                    start += chunk
            if not cut:
                chunk //= 2
        last["steps"][-1] = (status, headers, body)
    return sessions


def _encode(sessions):
    return [dict(p, steps=[[st, h, base64.b64encode(b).decode()] for st, h, b in p["steps"]]) for p in sessions]


def _decode(sessions):
    return [dict(p, steps=[(st, h, base64.b64decode(b)) for st, h, b in p["steps"]]) for p in sessions]


def _worker(args):
    seed, count, sample, out = args
    return fuzz(seed, count, sample, out=out)


def run(seed, count, workers, sample, out):
    """The merged Report of `workers` processes, each fuzzing its share with its own seed."""
    schemas = checks.cwmp_schema.load_schemas()   # built once, before the workers fork
    shares = [(seed * 1000 + i, count // workers + (i < count % workers), sample, out) for i in range(workers)]
    if workers == 1:
        return fuzz(*shares[0][:3], schemas=schemas, out=out)
    import multiprocessing
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        reports = pool.map(_worker, shares)
    total = Report()
    for r in reports:
        total.merge(r)
    return total


def _print(report, wall, workers, sample):
    n = report.messages
    print("engine messages: %s in %.1f s wall (%d worker%s): %s messages/s; %.0f per CPU second"
          % (format(n, ","), wall, workers, "s" if workers > 1 else "", format(int(n / wall), ","),
             n / report.cpu if report.cpu else 0))
    c = report.counts
    print("sessions %s on %s engines; messages the CPE sent %s" % (
        format(c["sessions"], ","), format(c["engines (CPEs)"], ","), format(c["messages the CPE sent"], ",")))
    print("XSD-validated in their namespace: %s (%s of new shape, %s sampled at %g); namespace checked on all"
          % (format(c["validated: new shape"] + c["validated: sample"], ","), format(c["validated: new shape"], ","),
             format(c["validated: sample"], ","), sample))
    print("no password in the debug trace, the answer or the log lines of %s messages (all, at debug level)"
          % format(c["leak checks"], ","))
    print("state: strict JSON in the store's format after every message (%s); model checks %s and reloads %s "
          "(after each change of the store, and every %dth / %dth message)" % (
              format(c["store checks"], ","), format(c["model checks"], ","), format(c["reload checks"], ","),
              MODEL_EVERY, RELOAD_EVERY))
    print("session ends: actions run %s; power cuts %s and kills %s before the end, after which the start "
          "carried out %s held actions" % (
              ", ".join("%s %s" % (k.split(": ")[1], format(v, ",")) for k, v in sorted(c.items())
                        if k.startswith("actions run")) or "none",
              format(c["power cuts"], ","), format(c["kills"], ","),
              format(sum(v for k, v in c.items() if k.startswith("carried out")), ",")))
    print("budgets: %s sessions read under a small budget (fault 9004 x%s, sessions ended by a budget %s)" % (
        format(c["small budget"], ","), format(report.outcomes["fault 9004"], ","),
        format(sum(v for k, v in report.outcomes.items() if k.startswith("session failed: ACS sent a message")), ",")))
    for title, counter in (("what the ACS sent, by session position", report.sources),
                           ("outcomes", report.outcomes)):
        print("%s:" % title)
        for k, v in counter.most_common():
            print("  %10s  %s" % (format(v, ","), k))
    print("problems: %d signatures" % len(report.problems))
    for sig, p in sorted(report.problems.items(), key=lambda kv: -kv[1]["count"]):
        print("  %s x%d: %s%s" % (p["kind"], p["count"], sig, "\n    reproducer: " + p["file"] if p["file"] else ""))
        print("    " + p["detail"].strip().splitlines()[-1][:300])


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fuzz the CWMP session engine (see the module docstring).")
    ap.add_argument("--messages", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--sample", type=float, default=0.01, help="share of known shapes validated (default 0.01)")
    ap.add_argument("--out", default="fuzz-out", help="folder of reproducers (default ./fuzz-out)")
    ap.add_argument("--replay", metavar="FILE", help="run a reproducer and print what it shows")
    args = ap.parse_args(argv)
    log.configure("error", stream=open(os.devnull, "w"))   # the engine's sentences: not a million lines
    if args.replay:
        with open(args.replay) as f:
            found = replay(_decode(json.load(f)["sessions"]), checks.cwmp_schema.load_schemas())
        for kind, sig, detail in found:
            print("%s: %s\n%s" % (kind, sig, detail))
        print("reproduced %d problem(s)" % len(found))
        return 1 if found else 0
    start = time.monotonic()
    report = run(args.seed, args.messages, max(1, args.workers), args.sample, args.out)
    _print(report, time.monotonic() - start, max(1, args.workers), args.sample)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
