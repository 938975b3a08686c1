"""`tr069client fleet ...`: many simulated CPEs against one ACS, for load tests (README,
"Load-testing an ACS"); progress on stderr, a JSON summary on stdout."""

import argparse
import json
import sys

from .. import config, log, settings
from ..store import StoreError
from . import template as templates
from .runner import Fleet

MS = "Device.ManagementServer."


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, as the other commands say it.
        raise _UsageError("%s (see %s --help)" % (message, self.prog))


def _whole(what, low, high=None):
    """A type for argparse: a whole number from `low` (to `high`) naming `what`."""
    def check(value):
        if not value.isdigit() or int(value) < low or (high is not None and int(value) > high):
            raise argparse.ArgumentTypeError("%s is a whole number from %d%s, not %r" % (
                what, low, " to %d" % high if high is not None else " up", value))
        return int(value)
    return check


_count = _whole("a count", 1)


def _seconds(value):
    try:
        s = float(value)
    except ValueError:
        s = -1.0
    if not s >= 0:
        raise argparse.ArgumentTypeError("a duration is a number of seconds >= 0, not %r" % value)
    return s


def _shard(value):
    k, sep, n = value.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and int(k) < int(n)):
        raise argparse.ArgumentTypeError("a shard is K/N with 0 <= K < N (K counts from 0), not %r" % value)
    return int(k), int(n)


def _parser():
    p = _Parser(prog="tr069client fleet", description="Simulate many CPEs against one ACS from one "
                "process: each runs the daemon's own CWMP engine; one loop serves them all.")
    p.add_argument("--acs-url", metavar="URL", help="the ACS URL every device informs to")
    p.add_argument("--count", type=_count, default=1, metavar="N",
                   help="devices in the whole fleet (all shards together)")
    p.add_argument("--template", metavar="FILE", help="JSON template of the devices' values "
                   "(default: the built-in one, see --print-template)")
    p.add_argument("--serial-pattern", metavar="P", help="SerialNumber of device {i}, e.g. ACME{i:06}")
    p.add_argument("--username", metavar="U", help="user name towards the ACS")
    p.add_argument("--password", metavar="P", help="password towards the ACS")
    p.add_argument("--periodic-inform-interval", type=_whole("an interval in seconds", 1), metavar="S")
    p.add_argument("--ramp-up", type=_seconds, default=0.0, metavar="S",
                   help="spread the devices' first boot over S seconds (0: all at once, a bootstrap storm)")
    p.add_argument("--cr-address", metavar="A", help="address in the ConnectionRequestURLs "
                   "(default: the one that routes to the ACS)")
    p.add_argument("--cr-port", type=_whole("a port", 0, 65535), default=7547, metavar="PORT",
                   help="the one connection-request port of the fleet (0: any free one)")
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="K/N",
                   help="run only slice K (from 0) of N of the serial space")
    p.add_argument("--state-dir", metavar="DIR", help="keep the fleet's state here: a second run "
                   "is a fleet of known devices (1 BOOT, not 0 BOOTSTRAP)")
    p.add_argument("--max-sessions", type=_count, default=1000, metavar="M",
                   help="sessions under way at once, at most (default 1000)")
    p.add_argument("--duration", type=_seconds, metavar="S", help="stop after S seconds")
    p.add_argument("--once", action="store_true",
                   help="stop once every device has had one successful session")
    p.add_argument("--seed", type=int, metavar="N", help="seed of stamped {rand:N} values, drift "
                   "and retry jitter (default: the state file's, else 1)")
    p.add_argument("--reboot-time", type=_seconds, default=2.0, metavar="S",
                   help="how long a simulated Reboot keeps a device away")
    p.add_argument("--ca-file", metavar="PEM", help="CAs that verify an https ACS and file servers")
    p.add_argument("--cwmp-version", choices=sorted(config.CWMP_VERSIONS), default="1.0")
    p.add_argument("--log-level", choices=sorted(log.LEVELS, key=log.LEVELS.get), default="warning")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--summary", metavar="FILE", help="also write the JSON summary to FILE")
    p.add_argument("--print-template", action="store_true", help="print the built-in template and exit")
    return p


def _settings(args):
    """The ManagementServer values the command line gives every device."""
    try:
        settings.check_url(args.acs_url)
    except settings.SettingError as e:
        raise _UsageError("--" + str(e))
    out = {MS + "URL": args.acs_url, MS + "EnableCWMP": "true"}
    for flag, name in ((args.username, "Username"), (args.password, "Password")):
        if flag is not None:
            out[MS + name] = flag
    if args.periodic_inform_interval is not None:
        out[MS + "PeriodicInformEnable"] = "true"
        out[MS + "PeriodicInformInterval"] = str(args.periodic_inform_interval)
    return out


def main(argv):
    try:
        args = _parser().parse_args(argv)
        if args.print_template:
            print(json.dumps(templates.DEFAULT, indent=2))
            return 0
        if not args.acs_url:
            raise _UsageError("--acs-url is required")
        log.configure(args.log_level)
        doc = templates.read(args.template) if args.template else templates.DEFAULT
        template = templates.Template(doc, _settings(args), args.serial_pattern)
        fleet = Fleet(template, acs_url=args.acs_url, count=args.count, shard=args.shard,
                      ramp_up=args.ramp_up, cr_address=args.cr_address, cr_port=args.cr_port,
                      state_dir=args.state_dir, max_sessions=args.max_sessions, seed=args.seed,
                      cwmp_version=args.cwmp_version, reboot_time=args.reboot_time,
                      duration=args.duration, once=args.once, ca_file=args.ca_file,
                      progress=None if args.quiet else sys.stderr)
        summary = fleet.run()
    except _UsageError as e:
        sys.stderr.write("tr069client fleet: %s\n" % e)
        return 2
    except (templates.TemplateError, StoreError, OSError) as e:
        sys.stderr.write("tr069client fleet: %s\n" % e)
        return 1
    text = json.dumps(summary, indent=2, sort_keys=True)
    print(text)
    if args.summary:
        with open(args.summary, "w") as f:
            f.write(text + "\n")
    return 1 if args.once and summary["informed"] < summary["devices"] else 0
