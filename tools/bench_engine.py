"""CPU of GetParameterValues exchanges through the sans-IO engine, for tools/bench.py.

One child per size (`PY -I -S`, the checkout on sys.path): the shipped model, no OS
providers, Device.NAT.PortMapping. rows of stored values (as AddObject stores them, four
values set as a provisioning ACS would); each repetition is a fresh session (Inform, empty
POST, the GetParameterValues, 204). An exchange is `receive(request)` + `next_post()`:
parsing the ACS's envelope, reading the values, building the response's chunks.
"""

import json

from bench_proc import FLAGS, REPO, BenchError, prologue, run

# Everything the child knows of the package is here: when names change, change them here.
_CHILD = r"""
import json, sys, time
cfg = json.loads(sys.argv[1])
from tr069client import datatypes, metadata, session
from tr069client.model import Model
from tr069client.store import Store

TABLE = "Device.NAT.PortMapping."


def device(rows):
    store = Store()
    params = metadata.load().params_of(TABLE + "{i}.")
    for n in range(1, rows + 1):
        row = "%s%d." % (TABLE, n)
        for name, p in params:
            store.values[row + name] = datatypes.default_value(p)
        store.values.update({row + "Description": "bench mapping %d" % n, row + "ExternalPort": str(10000 + n),
                             row + "InternalPort": str(20000 + n), row + "InternalClient": "192.168.1.%d" % (n % 250 + 2)})
    model = Model(store, providers=[])
    # The answer budget (16,384 entries) would refuse the 50,000-value path: the series
    # measures the engine's cost per value beyond it.
    model.max_answer = max(model.max_answer, rows * len(params))
    return model, [TABLE + "%d.%s" % (n, name) for n in range(1, rows + 1) for name, _ in params]


ENV = ('<soap-env:Envelope xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" '
       'xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
       'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="urn:dslforum-org:cwmp-1-0">'
       '<soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">%s</cwmp:ID></soap-env:Header>'
       '<soap-env:Body>%s</soap-env:Body></soap-env:Envelope>')
model, names = device(cfg["rows"])
asked = [TABLE] if cfg["path"] else names[:cfg["names"]]
INFORMED = (ENV % ("1", "<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>")).encode()
GPV = (ENV % ("2", '<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType="xsd:string[%d]">%s'
              '</ParameterNames></cwmp:GetParameterValues>' % (
                  len(asked), "".join("<string>%s</string>" % n for n in asked)))).encode()
clock = time.process_time


def one():
    s = session.Session(model, session.DeviceId("Bench", "000000", "Bench", "B0001"), [("1 BOOT", "")], 0,
                        "2026-01-01T00:00:00Z", lambda: "bench")
    t0 = clock()
    s.next_post()
    s.receive(200, {}, INFORMED)
    t1 = clock()
    if s.next_post() != b"":
        raise SystemExit("no empty POST")
    t2 = clock()
    s.receive(200, {}, GPV)
    body = s.next_post()
    t3 = clock()
    s.receive(204, {}, b"")
    if not s.ok:
        raise SystemExit("bench session failed: %s" % s.error)
    return t1 - t0, t3 - t2, body


out = {"inform": [], "gpv": []}
for _ in range(cfg["repeats"]):
    inform, gpv, body = one()
    out["inform"].append(inform)
    out["gpv"].append(gpv)
joined = b"".join(body)
out["values"] = joined.count(b"<ParameterValueStruct>")
out["request_bytes"], out["response_bytes"] = len(GPV), len(joined)
print(json.dumps(out))
"""

ROW_PARAMS = 18


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


def exchange(py, deps, size, path=False, repeats=7):
    """CPU figures of a GetParameterValues of `size` names (or of the table's path, which
    answers about `size` values): medians and all runs, in seconds."""
    rows = -(-size // ROW_PARAMS)
    cfg = {"rows": rows, "names": 0 if path else size, "path": path, "repeats": repeats}
    text = run([py] + FLAGS + ["-c", prologue([REPO, deps]) + _CHILD, json.dumps(cfg)])
    res = json.loads(text.strip().splitlines()[-1])
    res.update(size=size, path=path, median=median(res["gpv"]), inform_median=median(res["inform"]))
    if not res["values"]:
        raise BenchError("the GetParameterValues of %s answered no values" % (
            "the table's path (%d values)" % size if path else "%d names" % size))
    res["us_per_value"] = res["median"] / res["values"] * 1e6
    return res


def cpu_rows(py, deps, quick=False):
    """The GetParameterValues series: by names (1,000, 10,000, and 16,384, the most a request
    may name) and by the table's path (1,000, 10,000, 50,000 values)."""
    repeats = 3 if quick else 7
    names = (1000, 10000) if quick else (1000, 10000, 16384)
    paths = () if quick else (1000, 10000, 50000)
    return ([exchange(py, deps, n, False, repeats) for n in names]
            + [exchange(py, deps, n, True, repeats) for n in paths])
