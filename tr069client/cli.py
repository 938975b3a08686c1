"""The command line: `tr069client run|status|set|get|inform|reset-config|dhcp|fleet`."""

import json
import os
import sys

from . import __version__, config, control, identity, log, settings
from .faults import CwmpFault
from .store import Store, StoreError


def _formatter(prog):
    import argparse
    # A fixed width: asking the terminal's imports shutil (and bz2, lzma), 0.5 MB on a router.
    return argparse.HelpFormatter(prog, width=100)


def _parser_class():
    import argparse

    class _Parser(argparse.ArgumentParser):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("formatter_class", _formatter)
            argparse.ArgumentParser.__init__(self, *args, **kwargs)

        def error(self, message):
            # One line, no usage dump: init scripts log it and operators read it.
            raise _UsageError("%s (see %s --help)" % (message, self.prog))
    return _Parser


class _UsageError(Exception):
    pass


_COMMON = (("--state-dir", None, None, "folder of the state file (default /etc/tr069client on "
                                       "OpenWrt, else /var/lib/tr069client)"),
           ("--config", "FILE", None, "JSON config file (identity, hooks, settings)"))


def _add(p, flags):
    import argparse

    def typed(convert):
        def parse(value):
            try:
                return convert(value)
            except ValueError as e:
                raise argparse.ArgumentTypeError(str(e))
        parse.__name__ = convert.__name__
        return parse
    for flag, metavar, convert, text in flags:
        p.add_argument(flag, metavar=metavar, help=text, type=convert and typed(convert),
                       choices=_CHOICES.get(flag))


def _port(value):
    # 0: any free port (the ConnectionRequestURL then says which); for tests and labs.
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise ValueError("a port is a number from 0 to 65535, not %r" % value)
    return int(value)


def _interval(value):
    if not value.isdigit() or int(value) < 1:
        raise ValueError("the interval is a number of seconds >= 1, not %r" % value)
    return int(value)


_LEVELS = sorted(log.LEVELS, key=log.LEVELS.get)
_CHOICES = {"--log-level": _LEVELS}   # flags that take one of a few words
# `run`'s own flags: (flag, metavar, conversion, help). The daemon's start reads them
# without argparse (_run_args); argparse reads every other command, and any `run` line
# that the fast path does not take whole (help, abbreviations, errors and their messages).
_RUN = (("--acs-url", "URL", None, None), ("--username", "U", None, None),
        ("--password", "P", None, "the ACS password; ps shows it to every user of the machine: "
                                   "prefer --password-file, $TR069CLIENT_PASSWORD or the config file"),
        ("--password-file", "FILE", None, "read the ACS password from the first line of FILE"),
        ("--periodic-inform-enabled", "yes|no", config.parse_bool, None),
        ("--periodic-inform-interval", "S", _interval, None),
        ("--client-certificate", "PEM", None, None), ("--ca-file", "PEM", None, None),
        ("--cr-address", "ADDR", None, None), ("--cr-port", "PORT", _port, None),
        ("--log-level", "LEVEL", None, None))


class _Args:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


def _run_args(argv):
    """`run FLAG VALUE ...` parsed as argparse would, without loading it (0.36 MB that
    the daemon would carry for its whole life); None for anything else."""
    if not argv or argv[0] != "run":
        return None
    flags = {f: convert for f, _, convert, _ in _COMMON + _RUN}
    args = dict.fromkeys((f[2:].replace("-", "_") for f in flags), None)
    rest = list(argv[1:])
    while rest:
        flag, eq, value = rest.pop(0).partition("=")
        if flag not in flags or not (eq or rest):
            return None
        if not eq:
            value = rest.pop(0)
        if value.startswith("-") or value not in _CHOICES.get(flag, (value,)):
            return None
        try:
            args[flag[2:].replace("-", "_")] = flags[flag](value) if flags[flag] else value
        except ValueError:
            return None
    return _Args(command="run", **args)


def _parser():
    p = _parser_class()(prog="tr069client", description="TR-069 (CWMP) client for Linux routers.")
    p.add_argument("--version", action="version", version="tr069client " + __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run the daemon in the foreground")
    _add(run, _COMMON + _RUN)

    st = sub.add_parser("status", help="settings and state: status, last-session-error, retry-count")
    _add(st, _COMMON)
    st.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("set", help="change settings or parameters: KEY=VALUE ...")
    _add(s, _COMMON)
    s.add_argument("items", nargs="+", metavar="KEY=VALUE")

    g = sub.add_parser("get", help="print settings or parameters (Device.… paths)")
    _add(g, _COMMON)
    g.add_argument("paths", nargs="+", metavar="PATH")

    i = sub.add_parser("inform", help="ask the running daemon for a session now")
    _add(i, _COMMON)

    r = sub.add_parser("reset-config", help="forget configuration and state; next session is a BOOTSTRAP")
    _add(r, _COMMON)

    d = sub.add_parser("dhcp", help="take the ACS URL and the other CWMP sub-options of DHCP option 43")
    _add(d, _COMMON)
    d.add_argument("option43", metavar="OPTION43",
                   help="as the DHCP client gives it: hex (udhcpc's $opt43), colon-separated hex, or a URL")

    # Parsed by tr069client.fleet.cli (see main()), so that no other command loads fleet mode.
    sub.add_parser("fleet", add_help=False,
                   help="simulate many devices against an ACS, for load tests (fleet --help)")
    return p


# Passwords for `run` from the environment: unlike flags, ps does not show them to other users.
ENV_PASSWORD, ENV_CR_PASSWORD = "TR069CLIENT_PASSWORD", "TR069CLIENT_CR_PASSWORD"


def _passwords(args):
    """{setting: password} given outside the command line: --password-file, else
    $TR069CLIENT_PASSWORD, for the ACS; $TR069CLIENT_CR_PASSWORD for connection requests.
    An empty variable counts as unset."""
    out = {}
    password_file = getattr(args, "password_file", None)
    if args.password is not None and password_file:
        raise _UsageError("give --password or --password-file, not both")
    if password_file:
        try:
            with open(password_file, "rb") as f:
                out["password"] = f.readline().decode("utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as e:
            raise _CommandError("cannot read the password file %s: %s" % (password_file,
                                                                          getattr(e, "strerror", None) or e))
    elif args.password is None and os.environ.get(ENV_PASSWORD):
        out["password"] = os.environ[ENV_PASSWORD]
    if os.environ.get(ENV_CR_PASSWORD):
        out["connection-request-password"] = os.environ[ENV_CR_PASSWORD]
    return out


def _state_dir(args):
    if args.state_dir:
        return args.state_dir
    cfg = config.load(args.config)
    return config.get(cfg, "state-dir")


def _ask(state_dir, request, too_large_ok=False):
    """The running daemon's reply, or None when no daemon runs (or, with `too_large_ok`,
    when its reply would not fit the control channel)."""
    try:
        reply = control.request(os.path.join(state_dir, config.CONTROL_SOCKET), request)
    except control.NotRunning:
        return None
    if too_large_ok and reply.get("error") == control.REPLY_TOO_LARGE:
        return None
    if not reply.get("ok"):
        raise _CommandError(reply.get("error") or "the daemon refused the request")
    return reply


class _CommandError(Exception):
    pass


_held = []   # the locks of the state folder this command holds
_START_WAIT = 15.0   # seconds a daemon that holds the state folder gets to answer


def _ask_or_lock(state_dir, request):
    """The running daemon's reply; or None, with the right to write the state held until this
    command ends, when no daemon runs. A daemon that is starting holds that right before it
    reads the state: wait for it to answer rather than write what it would overwrite."""
    import time
    from .store import lock_writer
    deadline = time.monotonic() + _START_WAIT
    while True:
        reply = _ask(state_dir, request)
        if reply is not None:
            return reply
        fd = lock_writer(state_dir)
        if fd is not None:
            _held.append(fd)   # given up when the command ends
            return None
        if time.monotonic() > deadline:
            raise _CommandError("a tr069client daemon holds %s but does not answer; try again" % state_dir)
        time.sleep(0.1)


def _offline(state_dir, args, writing=False):
    """Store, model and planner of the device over the state file, for commands run while no
    daemon runs; a damaged file is set aside only by a command that writes a new one."""
    from .device import Device
    store = Store.load(os.path.join(state_dir, config.STATE_FILE), set_aside=writing)
    if store.load_problem:
        sys.stderr.write("tr069client: %s\n" % store.load_problem)
    cfg = config.load(args.config)
    device = Device(store, cfg, identity.resolve(cfg))
    return store, device.model, device.planner


def cmd_run(args):
    # http.client (with email.* and urllib.parse) before the rest of the daemon's modules:
    # in this order the daemon's peak is 0.15-0.2 MB lower (measured, tools/bench.py), its
    # long-lived objects packed in memory before the package's own come and go.
    from . import connection  # noqa: F401
    from . import daemon   # the loop, transport and listener: not for the other commands
    cfg = config.load(args.config)
    state_dir = args.state_dir or config.get(cfg, "state-dir")
    overrides = {k.replace("_", "-"): v for k, v in vars(args).items()
                 if k not in ("command", "config", "state_dir", "password_file") and v is not None}
    overrides.update(_passwords(args))
    d = daemon.Daemon(state_dir, args.config, overrides)
    d.run()
    return 0


def cmd_status(args):
    import time
    state_dir = _state_dir(args)
    reply = _ask(state_dir, {"cmd": "status"})
    store, model, planner = _offline(state_dir, args)
    info = dict(settings.show(model))
    invalid = settings.problems(model)
    if reply is not None:
        info.update(reply["status"])
        info["daemon"] = "running"
    else:
        info.update(planner.report(time.monotonic(), time.time()))
        info["daemon"] = "not running"
        if info["status"] == "running":
            info["next-session"] = ""
    if args.json:
        info["invalid-settings"] = invalid
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        width = max(len(k) for k in info)
        for k, v in info.items():
            if isinstance(v, bool):
                v = "yes" if v else "no"
            elif isinstance(v, list):
                v = ", ".join(v) or "-"
            why = " (invalid: %s)" % invalid[k] if k in invalid else ""
            print("%s: %s%s" % (k.rjust(width), v if v != "" else "-", why))
    return 0


def _pairs(items):
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _UsageError("expected KEY=VALUE, not %r" % item)
        out.append([key.strip(), value])
    return out


def cmd_set(args):
    items = _pairs(args.items)
    state_dir = _state_dir(args)
    if _ask_or_lock(state_dir, {"cmd": "set", "items": items}) is not None:
        return 0
    store, model, _ = _offline(state_dir, args, writing=True)
    settings.set_values(model, items)
    store.save()
    return 0


def cmd_get(args):
    state_dir = _state_dir(args)
    # Too much for one reply (`get Device.` on a busy router): read the state file and the
    # OS here, as the daemon would.
    reply = _ask(state_dir, {"cmd": "get", "paths": args.paths}, too_large_ok=True)
    if reply is not None:
        values, invalid = reply["values"], reply.get("invalid", {})
    else:
        _, model, _ = _offline(state_dir, args)
        values, invalid = settings.get_values(model, args.paths), settings.problems(model, args.paths)
    for k, why in invalid.items():
        sys.stderr.write("tr069client: %s: the stored value is invalid: %s\n" % (k, why))
    for k, v in values.items():
        if isinstance(v, bool):
            v = "yes" if v else "no"
        print("%s=%s" % (k, v) if len(values) > 1 or len(args.paths) > 1 or args.paths[0].endswith(".") else v)
    return 0


def cmd_inform(args):
    if _ask(_state_dir(args), {"cmd": "inform"}) is None:
        raise _CommandError("the daemon is not running")
    return 0


def cmd_reset_config(args):
    state_dir = _state_dir(args)
    if _ask_or_lock(state_dir, {"cmd": "reset-config"}) is not None:
        return 0
    from . import state   # its table of keys: for this command alone
    store = Store.load(os.path.join(state_dir, config.STATE_FILE))
    state.reset(store)
    store.save()
    return 0


def cmd_dhcp(args):
    from . import dhcp   # this command's alone: the daemon does not load it
    try:
        options = dhcp.decode(args.option43)
    except dhcp.DhcpError as e:
        raise _CommandError(str(e))
    state_dir = _state_dir(args)
    reply = _ask_or_lock(state_dir, {"cmd": "dhcp", "options": {str(k): v for k, v in options.items()}})
    if reply is not None:
        applied, kept = reply.get("applied", []), reply.get("kept", [])
    else:
        store, model, _ = _offline(state_dir, args, writing=True)
        applied, kept = dhcp.apply(model, options)
        if applied:
            store.save()
    print("from DHCP: %s" % (", ".join(applied) or "nothing changed"))
    for sentence in kept:
        print(sentence)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["fleet"]:
        try:
            from .fleet.cli import main as fleet
        except ModuleNotFoundError as e:   # a router's zipapp leaves it out
            if e.name != __package__ + ".fleet":
                raise
            sys.stderr.write("tr069client: fleet mode is not in this build "
                             "(tools/build_zipapp.py --fleet puts it in)\n")
            return 1
        return fleet(argv[1:])
    try:
        args = _run_args(argv) or _parser().parse_args(argv)
        return {"run": cmd_run, "status": cmd_status, "set": cmd_set, "get": cmd_get,
                "inform": cmd_inform, "reset-config": cmd_reset_config,
                "dhcp": cmd_dhcp}[args.command](args)
    except (_UsageError, _CommandError, config.ConfigError, identity.IdentityError,
            settings.SettingError, StoreError, control.ControlError) as e:
        sys.stderr.write("tr069client: %s\n" % e)
        return 2 if isinstance(e, _UsageError) else 1
    except CwmpFault as f:
        sys.stderr.write("tr069client: %s\n" % f.message)
        return 1
    except OSError as e:
        sys.stderr.write("tr069client: %s\n" % e)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        while _held:
            os.close(_held.pop())
