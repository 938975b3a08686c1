"""Deployment files: the bundle and zipapp builders, the SysV / OpenWrt init scripts and the
systemd unit."""

import configparser
import glob
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile

import pytest

# Process-level: the fast subset (pytest -m "not e2e") leaves these out.
pytestmark = pytest.mark.e2e

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(REPO, "tools")
SYSV = os.path.join(TOOLS, "init.d", "tr069client")
OPENWRT = os.path.join(TOOLS, "openwrt", "tr069client.init")
UNIT = os.path.join(TOOLS, "systemd", "tr069client.service")
sys.path.insert(0, TOOLS)
import build_bundle  # noqa: E402
import build_zipapp  # noqa: E402
from _httpd import free_port  # noqa: E402


def _python38():
    """A CPython 3.8 besides the running one (the zipapp must run there too), or None."""
    if sys.version_info[:2] == (3, 8):
        return None
    for pattern in ("/work/venv38/bin/python", os.path.expanduser("~/.pyenv/versions/3.8.*/bin/python3.8"),
                    "/root/.pyenv/versions/3.8.*/bin/python3.8"):
        for path in sorted(glob.glob(pattern)):
            if os.access(path, os.X_OK):
                return path
    return shutil.which("python3.8")


INTERPRETERS = [pytest.param(sys.executable, id="python%d.%d" % sys.version_info[:2]),
                pytest.param("3.8", id="python3.8")]


def _interpreter(name):
    if name != "3.8":
        return name
    path = _python38()
    if path is None:
        pytest.skip("no other CPython 3.8 here (this run is 3.8 itself, or none is installed)")
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The folder build_bundle.py makes, with bytecode for the running Python."""
    out = str(tmp_path_factory.mktemp("bundle") / "tr069client")
    assert build_bundle.main(["-o", out]) == 0
    return out


@pytest.fixture(scope="module")
def pyz(tmp_path_factory):
    """The zipapp, with .pyc files for the running Python (others must ignore them)."""
    out = str(tmp_path_factory.mktemp("pyz") / "tr069client.pyz")
    assert build_zipapp.main(["-o", out]) == 0
    return out


# ---------------------------------------------------------------- the bundle

def _names(folder):
    return sorted(os.path.relpath(os.path.join(r, f), folder) for r, _, fs in os.walk(folder) for f in fs)


def test_bundle_holds_bytecode_cold_sources_data_and_licences(bundle):
    names = _names(bundle)
    assert "tr069client/daemon.pyc" in names and "tr069client/linux/netlink.pyc" in names
    assert "tr069client/daemon.py" not in names          # sourceless: never compiled on the device
    assert "tr069client/fetch.py" in names and "tr069client/diagnostics/ping.py" in names   # cold: sources
    assert "tr069client/fetch.pyc" not in names
    # The running daemon's answers to the command line and the debug log's redaction: cold.
    assert {"tr069client/control_commands.py", "tr069client/redact.py"} <= set(names)
    # A sourceless .pyc: unchecked hash-based (PEP 552), its never-read hash left zero.
    with open(os.path.join(bundle, "tr069client", "daemon.pyc"), "rb") as f:
        assert f.read(16)[4:] == b"\x01\x00\x00\x00" + bytes(8)
    assert not [n for n in names if n.startswith("tr069client/fleet")]
    assert [n for n in names if n.startswith("defusedxml/")] == [
        "defusedxml/ElementTree.pyc", "defusedxml/LICENSE", "defusedxml/__init__.pyc", "defusedxml/common.pyc"]
    assert {"LICENSE", "__main__.py", "tr069client/tr181.json"} <= set(names)
    assert "__pycache__/__main__.%s.pyc" % sys.implementation.cache_tag in names
    with open(os.path.join(bundle, "tr069client", "fetch.py")) as f, \
            open(os.path.join(REPO, "tr069client", "fetch.py")) as g:
        cold, source = f.read().splitlines(), g.read().splitlines()
    # Comments and docstrings gone, every line where it was (tracebacks match the repository).
    assert len(cold) == len(source) and "#" not in "".join(cold) and '"""' not in "".join(cold)
    assert [c for c, s in zip(cold, source) if c and c != s.split("#")[0].rstrip()] == []


def test_bundle_build_is_reproducible(tmp_path, capsys):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert build_bundle.main(["-o", a]) == 0
    assert "bytecode for CPython %d.%d" % sys.version_info[:2] in capsys.readouterr().out
    assert build_bundle.main(["-o", b]) == 0
    assert _names(a) == _names(b)
    for n in _names(a):
        with open(os.path.join(a, n), "rb") as f, open(os.path.join(b, n), "rb") as g:
            assert f.read() == g.read(), n


def test_bundle_bytecode_for_another_python_is_refused_in_one_line(bundle):
    python = _python38()
    if python is None:
        pytest.skip("no other CPython 3.8 here")
    r = subprocess.run([python, "-I", "-S", bundle, "--version"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    err = r.stderr.decode()
    assert r.returncode == 1 and err.count("\n") == 1 and "bytecode for CPython %d.%d" % sys.version_info[:2] in err


def test_bundle_of_sources_runs_on_any_python(tmp_path):
    out = str(tmp_path / "src")
    assert build_bundle.main(["-o", out, "--sources"]) == 0
    assert not [n for n in _names(out) if n.endswith(".pyc")]
    for python in [sys.executable] + ([_python38()] if _python38() else []):
        r = subprocess.run([python, "-I", "-S", out, "--version"], stdout=subprocess.PIPE, timeout=60)
        assert r.returncode == 0 and r.stdout.startswith(b"tr069client ")


def test_bundle_runs_help_and_a_session_without_installed_packages(bundle, make_lab_acs, tmp_path):
    r = subprocess.run([sys.executable, "-I", "-S", bundle, "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0 and b"usage: tr069client" in r.stdout, r.stderr.decode()
    _one_session(sys.executable, bundle, make_lab_acs(), tmp_path)
    # Nothing it loaded to start and run a session was a cold source (Python would have
    # compiled it, and written its bytecode here: the folder is writable in this test).
    assert [r for r, _, _ in os.walk(os.path.join(bundle, "tr069client")) if r.endswith("__pycache__")] == []
    # A traceback from the bytecode names the function and the line it starts on.
    code = ("import sys, traceback; sys.path.insert(0, sys.argv[1]); from tr069client import soap\n"
            "try:\n    soap.parse(b'<x')\nexcept soap.SoapError:\n    print(traceback.format_exc())\n"
            "print(soap.Reader.feed.__qualname__)")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code, bundle], stdout=subprocess.PIPE, timeout=60)
    assert b'tr069client/soap.py", line ' in r.stdout and b", in parse" in r.stdout
    # Qualified names are left out of 3.11's bytecode (flash): a method is named as its
    # tracebacks name it. (Before 3.11 the name is a constant of the enclosing code: kept.)
    assert r.stdout.splitlines()[-1] == (b"feed" if sys.version_info >= (3, 11) else b"Reader.feed")


# ---------------------------------------------------------------- the zipapp

def test_zipapp_holds_package_data_and_defusedxml(pyz):
    with zipfile.ZipFile(pyz) as z:
        names = set(z.namelist())
        main = z.read("__main__.py").decode()
    assert {"__main__.py", "tr069client/__init__.py", "tr069client/cli.py", "tr069client/tr181.json",
            "tr069client/linux/__init__.py", "tr069client/linux/netdev.py",
            "defusedxml/__init__.py", "defusedxml/ElementTree.py"} <= names
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]
    assert "tr069client/cli.pyc" in names and "defusedxml/common.pyc" in names
    assert "tr069client.cli import main" in main
    with open(pyz, "rb") as f:
        assert f.readline() == b"#!/usr/bin/env python3\n"
    assert os.stat(pyz).st_mode & stat.S_IXUSR


def test_zipapp_build_is_reproducible_and_prints_its_size(tmp_path, capsys):
    a, b = str(tmp_path / "a.pyz"), str(tmp_path / "b.pyz")
    assert build_zipapp.main(["-o", a, "--no-compile"]) == 0
    assert "a.pyz: %d bytes" % os.path.getsize(a) in capsys.readouterr().out
    time.sleep(1.1)  # a timestamp taken from the clock or the files would now differ
    assert build_zipapp.main(["-o", b, "--no-compile"]) == 0
    with open(a, "rb") as fa, open(b, "rb") as fb:
        assert fa.read() == fb.read()


def test_fleet_mode_is_in_the_zipapp_only_when_asked(pyz, tmp_path):
    with zipfile.ZipFile(pyz) as z:
        assert not [n for n in z.namelist() if n.startswith("tr069client/fleet/")]
    # -S: no site-packages, where an editable install of the checkout would lend its fleet/.
    r = subprocess.run([sys.executable, "-S", pyz, "fleet", "--count", "1"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, cwd=str(tmp_path))
    assert r.returncode == 1 and r.stderr == ("tr069client: fleet mode is not in this build "
                                              "(tools/build_zipapp.py --fleet puts it in)\n")
    out = str(tmp_path / "fleet.pyz")
    assert build_zipapp.main(["-o", out, "--fleet", "--no-compile"]) == 0
    r = subprocess.run([sys.executable, out, "fleet", "--print-template"], stdout=subprocess.PIPE,
                       universal_newlines=True, cwd=str(tmp_path))
    assert r.returncode == 0 and "FLEET{i:07}" in r.stdout


def test_zipapp_takes_defusedxml_from_a_folder(tmp_path):
    import defusedxml
    parent = os.path.dirname(os.path.dirname(defusedxml.__file__))
    out = str(tmp_path / "t.pyz")
    assert build_zipapp.main(["-o", out, "--defusedxml", parent, "--store"]) == 0
    with zipfile.ZipFile(out) as z:
        assert "defusedxml/common.py" in z.namelist()
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
    assert build_zipapp.main(["-o", out, "--defusedxml", str(tmp_path)]) == 1


@pytest.mark.parametrize("python", INTERPRETERS)
def test_zipapp_runs_help_without_installed_packages(pyz, python):
    python = _interpreter(python)
    # -I -S: no site-packages, no PYTHONPATH: only the stdlib and what the file bundles.
    r = subprocess.run([python, "-I", "-S", pyz, "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert b"usage: tr069client" in r.stdout
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import defusedxml, tr069client.metadata as m; "
            "print(defusedxml.__file__); print(m.__file__); print(m.load().model)")
    r = subprocess.run([python, "-I", "-S", "-c", code, pyz], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    origin, module, model = r.stdout.decode().split()
    assert origin.startswith(pyz + os.sep)       # the bundled defusedxml, not an installed one
    assert model.startswith("Device:2.")         # tr181.json read from inside the zip
    # The bundled bytecode serves the Python that built it; another version compiles the source.
    assert module.endswith(".pyc" if python == sys.executable else ".py")


@pytest.mark.parametrize("python", INTERPRETERS)
def test_zipapp_completes_a_session(pyz, python, make_lab_acs, tmp_path):
    _one_session(_interpreter(python), pyz, make_lab_acs(), tmp_path)


def _one_session(python, app, acs, tmp_path):
    """`python -I -S APP run` completes a session with `acs` (GetParameterValues) and stops."""
    from lab_acs import get_parameter_values
    acs.queue(get_parameter_values(["Device.DeviceInfo.", "Device.ManagementServer.URL"]))
    log = open(str(tmp_path / "daemon.log"), "wb")
    p = subprocess.Popen([python, "-I", "-S", app, "run", "--state-dir", str(tmp_path / "state"),
                          "--acs-url", acs.url, "--cr-port", str(free_port()),
                          "--periodic-inform-enabled", "no"], stdout=log, stderr=log)
    try:
        acs.wait_sessions(1, timeout=30)
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=30)
        log.close()
    assert rc == 0, open(str(tmp_path / "daemon.log")).read()
    values = [r for m, r in acs.responses if m == "GetParameterValuesResponse"][0]
    assert values["Device.ManagementServer.URL"][0] == acs.url
    assert values["Device.DeviceInfo.SoftwareVersion"][0]


# ---------------------------------------------------------------- init scripts: syntax

@pytest.mark.parametrize("shell", ["sh", "bash", "dash"])
@pytest.mark.parametrize("script", [SYSV, OPENWRT], ids=["sysv", "openwrt"])
def test_init_script_parses(shell, script):
    if shutil.which(shell) is None:
        pytest.skip("%s is not installed" % shell)
    r = subprocess.run([shell, "-n", script], stderr=subprocess.PIPE)
    assert r.returncode == 0, r.stderr.decode()


# ---------------------------------------------------------------- SysV: start, reload, stop

def _status_json(python, app, state_dir):
    r = subprocess.run([python, app, "status", "--state-dir", state_dir, "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout.decode())


@pytest.mark.parametrize("mode, form", [("start-stop-daemon", "bundle"), ("background", "bundle"),
                                        ("start-stop-daemon", "zipapp")])
def test_sysv_script_starts_reloads_and_stops(mode, form, request, make_lab_acs, tmp_path):
    # The zipapp is named by PYZ, APP's older name, which must still work.
    app = request.getfixturevalue("bundle" if form == "bundle" else "pyz")
    if mode == "start-stop-daemon" and shutil.which("start-stop-daemon") is None:
        pytest.skip("no start-stop-daemon here")
    acs = make_lab_acs()
    state, pidfile, cfg = str(tmp_path / "state"), str(tmp_path / "tr069client.pid"), str(tmp_path / "config.json")
    settings = {"acs-url": acs.url, "periodic-inform-enabled": False, "periodic-inform-interval": 3600,
                "cr-port": free_port()}
    with open(cfg, "w") as f:
        json.dump(settings, f)
    defaults = str(tmp_path / "defaults")
    with open(defaults, "w") as f:
        f.write("PYTHON=%s\n%s=%s\nCONFIG=%s\nSTATE_DIR=%s\nPIDFILE=%s\n" % (
            sys.executable, "APP" if form == "bundle" else "PYZ", app, cfg, state, pidfile))
    env = dict(os.environ, TR069CLIENT_DEFAULTS=defaults)
    if mode == "background":
        env["NO_START_STOP_DAEMON"] = "1"

    def run(action):
        return subprocess.run(["sh", SYSV, action], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)

    r = run("start")
    try:
        assert r.returncode == 0, r.stdout.decode()
        acs.wait_sessions(1, timeout=30)
        with open(pidfile) as f:
            pid = int(f.read())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            assert app.encode() in f.read()
        assert run("start").returncode == 0          # already running: nothing happens
        with open(pidfile) as f:
            assert int(f.read()) == pid
        assert run("status").returncode == 0
        # reload = SIGHUP: the daemon re-reads the config file and applies the change
        settings["periodic-inform-interval"] = 1234
        with open(cfg, "w") as f:
            json.dump(settings, f)
        assert run("reload").returncode == 0
        deadline = time.monotonic() + 20
        while _status_json(sys.executable, app, state).get("periodic-inform-interval") != 1234:
            assert time.monotonic() < deadline, "the reload did not apply the config file"
            time.sleep(0.2)
        assert run("status").returncode == 0
    finally:
        stopped = run("stop")
    assert stopped.returncode == 0, stopped.stdout.decode()
    assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"
    assert not os.path.exists(pidfile)
    assert run("status").returncode == 3
    assert run("stop").returncode == 0               # stopping a stopped daemon is fine
    assert run("bogus").returncode == 2


@pytest.mark.parametrize("content", ["-1", "0", "1 2", "$(id)"])
def test_sysv_script_takes_only_a_process_id_from_the_pid_file(tmp_path, content):
    # "kill -TERM -1" from a damaged PID file would stop every process; "status" shows the
    # same test without that risk.
    pidfile, defaults = str(tmp_path / "t.pid"), str(tmp_path / "defaults")
    with open(pidfile, "w") as f:
        f.write(content + "\n")
    with open(defaults, "w") as f:
        f.write("PIDFILE=%s\nPYZ=%s\n" % (pidfile, tmp_path / "none.pyz"))
    r = subprocess.run(["sh", SYSV, "status"], env=dict(os.environ, TR069CLIENT_DEFAULTS=defaults),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert (r.returncode, r.stdout.decode()) == (1, "tr069client is not running but %s exists\n" % pidfile)


# ---------------------------------------------------------------- OpenWrt: procd calls, UCI -> JSON

_OPENWRT_STUBS = r"""
log() { printf '%s\n' "$*" >> "$CALLS"; }
config_load() { log "config_load $1"; }
config_get() { eval "_v=\${UCI_$3-\$4}"; eval "$1=\$_v"; }
config_get_bool() {
    eval "_v=\${UCI_$3-\$4}"
    case "$_v" in 1|yes|on|true|enabled) eval "$1=1" ;; *) eval "$1=0" ;; esac
}
procd_open_instance() { log "open_instance $*"; }
procd_set_param() { log "set_param $*"; }
procd_close_instance() { log "close_instance"; }
procd_send_signal() { log "send_signal $*"; }
procd_add_reload_trigger() { log "reload_trigger $*"; }
start() { log "start"; start_service; }
# jshn: keep the pairs in a file, dump them as JSON
json_init() { : > "$CALLS.json"; }
json_add_string() { printf 's\t%s\t%s\n' "$1" "$2" >> "$CALLS.json"; }
json_add_boolean() { printf 'b\t%s\t%s\n' "$1" "$2" >> "$CALLS.json"; }
json_dump() { "$PYTHON" -c '
import json, sys
out = {}
for line in open(sys.argv[1]):
    kind, key, value = line.rstrip("\n").split("\t")
    out[key] = value if kind == "s" else value == "1"
print(json.dumps(out))' "$CALLS.json"; }
"""


def _openwrt(tmp_path, action, uci):
    calls = str(tmp_path / "calls")
    open(calls, "w").close()
    env = dict(os.environ, CALLS=calls, PYTHON=sys.executable)
    env.update(("UCI_" + k, v) for k, v in uci.items())
    script = "%s\n. %s\nCONF=%s\n%s\n" % (_OPENWRT_STUBS, OPENWRT, tmp_path / "var" / "tr069client.json", action)
    r = subprocess.run(["sh", "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode == 0, r.stdout.decode()
    with open(calls) as f:
        return f.read().splitlines()


def test_openwrt_script_runs_the_bundle_under_procd(tmp_path):
    state = str(tmp_path / "flash" / "tr069client")
    calls = _openwrt(tmp_path, "start_service; service_triggers", {
        "state_dir": state, "acs_url": "https://acs.example/cwmp?a=1&b=\"2\"", "password": "p w'\\d",
        "periodic_inform_enabled": "1", "periodic_inform_interval": "600", "cr_port": "7547"})
    conf = str(tmp_path / "var" / "tr069client.json")
    assert "open_instance main" in calls
    assert ("set_param command python3 /usr/lib/tr069client run --state-dir %s --config %s"
            % (state, conf)) in calls
    assert "set_param respawn 3600 5 0" in calls
    assert "reload_trigger tr069client" in calls
    assert os.path.isdir(state)
    assert stat.S_IMODE(os.stat(conf).st_mode) & 0o077 == 0     # it holds the passwords
    sys.path.insert(0, REPO)
    from tr069client import config
    cfg = config.load(conf)                                   # the daemon accepts every key
    assert cfg["acs-url"] == "https://acs.example/cwmp?a=1&b=\"2\""
    assert cfg["password"] == "p w'\\d"
    assert cfg["periodic-inform-enabled"] is True and cfg["periodic-inform-interval"] == 600
    assert cfg["cr-port"] == 7547 and cfg["syslog"] is True
    assert "username" not in cfg                              # unset options stay out


def test_openwrt_default_state_dir_is_on_flash(tmp_path):
    with open(OPENWRT) as f:
        text = f.read()
    assert "config_get state_dir main state_dir /etc/tr069client" in text
    assert "USE_PROCD=1" in text and text.startswith("#!/bin/sh /etc/rc.common\n")


def test_the_cli_finds_the_state_where_each_init_script_keeps_it():
    # `tr069client status` without --state-dir must see the daemon the init script started.
    import re
    sys.path.insert(0, REPO)
    from tr069client import config
    samples = os.path.join(REPO, "tests", "data", "linux")
    with open(OPENWRT) as f:
        procd = re.search(r"config_get state_dir main state_dir (\S+)", f.read()).group(1)
    with open(SYSV) as f:
        sysv = re.search(r"^STATE_DIR=(\S+)$", f.read(), re.M).group(1)
    with open(UNIT) as f:
        systemd = re.search(r"run --state-dir (\S+)", f.read()).group(1)
    assert config.default_state_dir(os.path.join(samples, "openwrt")) == procd
    assert config.default_state_dir(os.path.join(samples, "debian")) == sysv == systemd


def test_openwrt_reload_sends_hup_and_disabled_runs_nothing(tmp_path):
    calls = _openwrt(tmp_path, "reload_service", {"state_dir": str(tmp_path / "s")})
    assert calls.index("send_signal tr069client main HUP") < calls.index("start")
    assert "open_instance main" in calls
    calls = _openwrt(tmp_path, "start_service; reload_service", {"enabled": "0"})
    assert not [c for c in calls if c.startswith(("open_instance", "send_signal"))]


# ---------------------------------------------------------------- systemd

def test_systemd_unit():
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str
    unit.read(UNIT)
    svc = unit["Service"]
    assert svc["ExecStart"].split()[:3] == ["/usr/bin/python3", "/usr/lib/tr069client", "run"]
    assert "--config /etc/tr069client/config.json" in svc["ExecStart"]
    assert svc["Restart"] == "always"                 # a Reboot that ends the daemon restarts it
    assert svc["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    if shutil.which("systemd-analyze"):
        r = subprocess.run(["systemd-analyze", "verify", UNIT], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        assert r.returncode == 0, r.stdout.decode()
