"""The command line without a running daemon: settings on the state file, status, and
one-line errors for every kind of bad input (never a traceback)."""

import json
import os
import re
import subprocess
import sys

import pytest

from tr069client import cli

from _daemon import REPO

MS = "Device.ManagementServer."


@pytest.fixture
def tr(tmp_path, capsys):
    """tr(*argv) -> (exit status, stdout, stderr) of `tr069client ARGV --state-dir TMP`."""
    state = str(tmp_path / "state")

    def run(command, *args):
        argv = [command] + (["--state-dir", state] if command not in ("--version",) else []) + list(args)
        code = cli.main(argv)
        out, err = capsys.readouterr()
        return code, out, err
    run.state = state
    return run


def one_line_error(code, err, expected_code=1):
    assert code == expected_code, err
    assert err.startswith("tr069client: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_set_get_and_status_offline(tr):
    assert tr("set", "acs-url=http://acs.example/cwmp", "password=s3cret", "periodic-inform-interval=60")[0] == 0
    assert tr("get", "acs-url")[1] == "http://acs.example/cwmp\n"
    assert tr("get", MS + "PeriodicInformInterval")[1] == "60\n"
    assert tr("get", "password")[1] == "********\n"
    code, out, _ = tr("status", "--json")
    st = json.loads(out)
    assert code == 0 and st["status"] == "running" and st["daemon"] == "not running"
    assert st["password"] == "********" and "s3cret" not in out
    for key in ("last-session-error", "retry-count", "last-successful-session", "next-session"):
        assert key in st
    assert st["retry-count"] == 0 and st["next-session"] == ""
    code, out, _ = tr("status")
    assert code == 0 and "        status: running" in out and "s3cret" not in out


def test_set_is_all_or_nothing(tr):
    assert tr("set", "cr-port=7000")[0] == 0
    err = one_line_error(*tr("set", "periodic-inform-interval=120", "cr-port=8000",
                             MS + "PeriodicInformInterval=abc")[::2])
    assert "PeriodicInformInterval" in err
    assert tr("get", "periodic-inform-interval")[1] == "3600\n"
    assert tr("get", "cr-port")[1] == "7000\n"


@pytest.mark.parametrize("argv, words", [
    (["set", "no-such-setting=1"], "unknown setting 'no-such-setting'"),
    (["set", "cr-port=70000"], "cr-port"),
    (["set", "enabled=maybe"], "expected yes or no"),
    (["set", "Device.No.Such=1"], "Device.No.Such"),
    (["set", "Device.DeviceInfo.UpTime=5"], "Device.DeviceInfo.UpTime"),
    (["get", "Device.No.Such."], "Device.No.Such."),
    (["inform"], "not running"),
    (["set", "cr-port=abc"], "cr-port: expected a whole number, not 'abc'"),
    (["set", "periodic-inform-interval=1.5"], "expected a whole number"),
    (["set", "acs-url=ftp://acs.example/"], "acs-url: expected an http:// or https:// URL"),
    (["set", "acs-url=http://acs.example/a\nb"], "acs-url: expected an http:// or https:// URL"),
    (["set", "acs-url=http://acs.example:99999/"], "acs-url: expected an http:// or https:// URL"),
    (["set", "acs-url=http://cpe:hunter2@acs.example/"], "not in the URL"),
])
def test_bad_values_give_one_line(tr, argv, words):
    err = one_line_error(*tr(*argv)[::2])
    assert words in err


@pytest.mark.parametrize("argv, sentence", [
    (["set", "periodic-inform-interval=0"], "periodic-inform-interval: 0 is not allowed: the value must be at least 1"),
    (["set", MS + "CWMPRetryIntervalMultiplier=1"],
     MS + "CWMPRetryIntervalMultiplier: 1 is not allowed: the value must be from 1000 to 65535"),
    (["set", "Device.DeviceInfo.UpTime=5"], "Device.DeviceInfo.UpTime is owned by the operating system"),
    (["set", "Device.No.Such=1"], "no such parameter: Device.No.Such"),
])
def test_refusals_are_sentences_naming_the_path_once(tr, argv, sentence):
    assert one_line_error(*tr(*argv)[::2]) == "tr069client: %s\n" % sentence


@pytest.mark.parametrize("argv, words", [
    (["set", "novalue"], "expected KEY=VALUE"),
    (["run", "--cr-port", "http"], "--cr-port"),
    (["run", "--log-level", "loud"], "--log-level"),
    (["run", "--periodic-inform-interval", "0"], "interval"),
    (["status", "--bogus"], "--bogus"),
])
def test_bad_flags_give_one_line_and_status_2(tr, argv, words):
    err = one_line_error(*tr(*argv)[::2], expected_code=2)
    assert words in err


@pytest.mark.parametrize("argv", [
    ["run"],
    ["run", "--state-dir", "/s", "--acs-url", "http://acs/", "--username", "u", "--password", "p",
     "--periodic-inform-enabled", "no", "--periodic-inform-interval", "60", "--cr-port", "0",
     "--cr-address", "192.0.2.1", "--ca-file", "ca.pem", "--client-certificate", "c.pem",
     "--log-level", "debug", "--config", "c.json"],
    ["run", "--cr-port=7547", "--acs-url=", "--periodic-inform-enabled=on", "--cr-port", "8000"],
])
def test_run_flags_read_without_argparse_as_argparse_reads_them(argv):
    fast = cli._run_args(argv)
    assert fast is not None and vars(fast) == vars(cli._parser().parse_args(argv))


@pytest.mark.parametrize("argv", [
    ["run", "--acs"], ["run", "--password", "-x"], ["run", "--cr-port", "http"], ["run", "--help"],
    ["run", "--log-level", "loud"], ["run", "extra"], ["run", "--username"], ["status"],
])
def test_run_lines_the_fast_path_does_not_take_go_to_argparse(argv):
    assert cli._run_args(argv) is None


def test_config_file_problems_give_one_line(tr, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert "not valid JSON" in one_line_error(*tr("status", "--config", str(bad))[::2])
    bad.write_text('{"acs-urll": "http://x"}')
    assert "unknown setting 'acs-urll'" in one_line_error(*tr("status", "--config", str(bad))[::2])
    bad.write_text('{"periodic-inform-interval": "often"}')
    assert "periodic-inform-interval" in one_line_error(*tr("status", "--config", str(bad))[::2])
    bad.write_text('{"log-level": "loud"}')
    assert ("log-level: expected one of debug, info, warning, error, not 'loud'"
            in one_line_error(*tr("run", "--config", str(bad))[::2]))
    assert "cannot read config file" in one_line_error(*tr("status", "--config", str(tmp_path / "none"))[::2])


@pytest.mark.e2e
def test_run_with_a_bad_config_file_exits_with_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    env = dict(os.environ, PYTHONPATH=REPO)
    r = subprocess.run([sys.executable, "-m", "tr069client", "run", "--state-dir", str(tmp_path / "s"),
                        "--config", str(bad)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env, timeout=30)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "must hold a JSON object" in r.stderr


def test_reset_config_forgets_everything_but_the_boot(tr):
    tr("set", "acs-url=http://acs.example/cwmp")
    with open(os.path.join(tr.state, "state.json")) as f:
        data = json.load(f)
    data["state"]["boot_id"] = "boot-7"
    data["state"]["bootstrap_url"] = "http://acs.example/cwmp"
    with open(os.path.join(tr.state, "state.json"), "w") as f:
        json.dump(data, f)
    assert tr("reset-config")[0] == 0
    with open(os.path.join(tr.state, "state.json")) as f:
        data = json.load(f)
    assert data["values"] == {} and data["state"] == {"boot_id": "boot-7"}
    assert tr("get", "acs-url")[1] == "\n"
    assert json.loads(tr("status", "--json")[1])["status"] == "waiting-URL"


def test_a_damaged_state_file_is_reported_and_set_aside(tr):
    os.makedirs(tr.state)
    with open(os.path.join(tr.state, "state.json"), "w") as f:
        f.write("garbage")
    code, out, err = tr("status", "--json")
    assert code == 0 and json.loads(out)["status"] == "waiting-URL"
    assert err.count("\n") == 1 and "was damaged" in err
    # Looking changes nothing; a command that writes a new state sets the old one aside.
    assert os.path.exists(os.path.join(tr.state, "state.json"))
    assert not os.path.exists(os.path.join(tr.state, "state.json.damaged"))
    code, out, err = tr("set", "acs-url=http://acs.example/")
    assert code == 0 and err.count("\n") == 1 and "state.json.damaged" in err
    assert os.path.exists(os.path.join(tr.state, "state.json.damaged"))


def test_version(tr):
    with pytest.raises(SystemExit) as e:
        tr("--version")
    assert e.value.code == 0


def test_a_password_in_an_acs_set_url_is_not_shown(tr):
    assert tr("set", "acs-url=http://acs.example/cwmp")[0] == 0
    with open(os.path.join(tr.state, "state.json")) as f:
        data = json.load(f)
    data["values"][MS + "URL"] = "http://cpe:hunter2@acs.example/cwmp"   # as an ACS may set it
    with open(os.path.join(tr.state, "state.json"), "w") as f:
        json.dump(data, f)
    for argv in (["status"], ["status", "--json"], ["get", "acs-url"]):
        code, out, _ = tr(*argv)
        assert code == 0 and "hunter2" not in out and "http://cpe:********@acs.example/cwmp" in out
        assert "invalid:" not in out and "\"acs-url\": \"expected" not in out   # the transport can use it
    assert "bad-credentials" not in tr("set", "acs-url=http://cpe:bad-credentials@acs.example/")[2]


def edit_state(tr, change):
    with open(os.path.join(tr.state, "state.json")) as f:
        data = json.load(f)
    change(data)
    with open(os.path.join(tr.state, "state.json"), "w") as f:
        json.dump(data, f)


def hand_edit(data):
    """What an operator's editor may leave in the state file: every kind of setting wrong."""
    data["values"].update({MS + "EnableCWMP": "maybe", MS + "PeriodicInformInterval": "abc",
                           MS + "PeriodicInformEnable": "", MS + "URL": "ftp:x"})
    data["state"]["settings"] = {"cr-port": "abc", "cr-address": None, "ca-file": ["x"]}


def test_hand_edited_invalid_settings_are_shown_as_stored_and_said_invalid(tr):
    assert tr("set", "acs-url=http://acs.example/cwmp")[0] == 0
    edit_state(tr, hand_edit)
    code, out, err = tr("status", "--json")
    st = json.loads(out)
    assert code == 0 and err == ""
    assert st["periodic-inform-interval"] == "abc" and st["enabled"] == "maybe" and st["cr-port"] == "abc"
    assert st["invalid-settings"]["periodic-inform-interval"] == \
        '"abc" is not an unsigned integer; 3600 is in effect'
    assert st["invalid-settings"]["cr-port"] == "expected a whole number, not 'abc'; 7547 is in effect"
    assert sorted(st["invalid-settings"]) == ["acs-url", "ca-file", "cr-address", "cr-port", "enabled",
                                              "periodic-inform-enabled", "periodic-inform-interval"]
    assert st["status"] == "running"          # EnableCWMP "maybe": the default, enabled
    code, out, _ = tr("status")
    assert code == 0 and re.search(
        r"^ *periodic-inform-interval: abc \(invalid: \"abc\" is not an unsigned integer; 3600 is in effect\)$",
        out, re.M)
    code, out, err = tr("get", "cr-port", MS + "PeriodicInformInterval")
    assert code == 0 and out == "cr-port=abc\n%sPeriodicInformInterval=abc\n" % MS
    assert err == "tr069client: cr-port: the stored value is invalid: expected a whole number, not 'abc'; " \
                  "7547 is in effect\n"
    assert tr("set", "cr-port=7000", "periodic-inform-interval=60")[0] == 0
    st = json.loads(tr("status", "--json")[1])
    assert st["cr-port"] == 7000 and st["periodic-inform-interval"] == 60
    assert "cr-port" not in st["invalid-settings"] and "enabled" in st["invalid-settings"]
    # A URL that is no URL is as good as none: DHCP may replace it.
    code, out, err = tr("dhcp", "http://acs.example/dhcp")
    assert (code, out, err) == (0, "from DHCP: acs-url\n", "")
    assert tr("get", "acs-url")[1] == "http://acs.example/dhcp\n"


def test_settings_in_effect_when_the_stored_ones_are_invalid(tr):
    from tr069client import settings
    from tr069client.store import Store
    from tr069client.model import Model
    from tr069client.settings import PRODUCT_DEFAULTS
    store = Store()
    hand_edit({"values": store.values, "state": store.state})
    m = Model(store, defaults=PRODUCT_DEFAULTS)
    assert [settings.get(m, n) for n in ("enabled", "periodic-inform-interval", "periodic-inform-enabled",
                                         "cr-port", "cr-address", "ca-file", "acs-url")] == \
        [True, 3600, True, 7547, "", "", "ftp:x"]
    store.state["settings"] = "not an object"
    assert settings.get(m, "cr-port") == 7547 and settings.put(m, "cr-port", "8000") == 8000


def test_a_state_dir_that_is_a_file_gives_one_line(tmp_path, capsys):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    for argv in (["status"], ["get", "acs-url"], ["set", "acs-url=http://acs.example/"]):
        code = cli.main(argv + ["--state-dir", str(not_a_dir)])
        err = one_line_error(code, capsys.readouterr()[1])
        assert "Not a directory" in err and "connection to the daemon" not in err


def test_get_with_a_reply_too_large_for_the_control_socket_reads_the_state_itself(tr):
    # `get Device.` on a router with many processes, routes and hosts is more than one line
    # of the control channel holds.
    import select
    import threading
    from tr069client import control
    assert tr("set", "acs-url=http://acs.example/cwmp")[0] == 0
    huge = {"ok": True, "values": {"Device.X.%d" % i: "v" * 100 for i in range(1000)}}
    srv = control.Server(os.path.join(tr.state, "control.sock"), lambda req: huge)
    done = threading.Event()

    def serve():
        while not done.is_set():
            r, w, _ = select.select(srv.readable(), srv.writable(), [], 0.05)
            srv.handle(r)
    thread = threading.Thread(target=serve)
    thread.start()
    try:
        code, out, err = tr("get", "acs-url", MS + "PeriodicInformInterval")
    finally:
        done.set()
        thread.join()
        srv.close()
    assert (code, err) == (0, "")
    assert out == "acs-url=http://acs.example/cwmp\n%sPeriodicInformInterval=3600\n" % MS


def test_a_password_file_that_cannot_be_read_is_a_one_line_error(tr, tmp_path):
    missing = tmp_path / "missing"
    code, _, err = tr("run", "--acs-url", "http://acs.example/", "--password-file", str(missing))
    assert one_line_error(code, err) == "tr069client: cannot read the password file %s: No such file or " \
        "directory\n" % missing


def test_password_and_password_file_together_are_a_usage_error(tr):
    code, _, err = tr("run", "--password", "x", "--password-file", "f")
    assert "give --password or --password-file, not both" in one_line_error(code, err, 2)
