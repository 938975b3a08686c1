"""Hand-written fakes of OpenWrt's commands for binding tests: `uci` over a JSON file, and
`record`, which only logs its arguments. Every call is appended to a log as a JSON line.

    paths = install(tmp_path)     # executables in tmp_path/bin; env FAKE_UCI_STATE, FAKE_LOG
    calls(paths)                  # [argv, ...] in order, argv[0] the command's base name
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

OPENWRT = {
    "network": {"lan": {".type": "interface", "device": "br-lan", "proto": "static",
                        "ipaddr": "192.168.1.1", "netmask": "255.255.255.0"}},
    "wireless": {"default_radio0": {".type": "wifi-iface", "device": "radio0", "mode": "ap",
                                    "ssid": "OpenWrt", "encryption": "none"}},
    "system": {"cfg01e48a": {".type": "system", "hostname": "OpenWrt", "timezone": "UTC"},
               "ntp": {".type": "timeserver", "server": ["0.openwrt.pool.ntp.org",
                                                         "1.openwrt.pool.ntp.org"]}},
    "firewall": {"cfg0a92bd": {".type": "zone", "name": "wan"},
                 "ssh": {".type": "redirect", "name": "ssh", "src": "wan", "src_dport": "2222",
                         "dest": "lan", "dest_ip": "192.168.1.10", "dest_port": "22",
                         "proto": "tcp", "target": "DNAT"}},
}


def install(tmp_path, state=None):
    """Write the fake commands and their state; returns {"bin", "state", "log", "env",
    "uci", "record"} (env: os.environ plus PATH and the fakes' variables)."""
    bindir = os.path.join(str(tmp_path), "bin")
    os.makedirs(bindir, exist_ok=True)
    paths = {"bin": bindir, "state": os.path.join(str(tmp_path), "uci.json"),
             "log": os.path.join(str(tmp_path), "calls.log")}
    with open(paths["state"], "w") as f:
        json.dump(OPENWRT if state is None else state, f)
    for name in ("uci", "record", "sleep-forever", "fail"):
        path = os.path.join(bindir, name)
        with open(path, "w") as f:
            f.write("#!%s\nimport sys\nsys.path.insert(0, %r)\nimport _fakes\n"
                    "sys.exit(_fakes.main(%r, sys.argv[1:]))\n" % (sys.executable, HERE, name))
        os.chmod(path, 0o755)
        paths[name] = path
    env = dict(os.environ)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["FAKE_UCI_STATE"] = paths["state"]
    env["FAKE_LOG"] = paths["log"]
    paths["env"] = env
    return paths


def calls(paths):
    try:
        with open(paths["log"]) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def main(name, args):
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write(json.dumps([name] + args) + "\n")
    if name == "record":
        return 0
    if name == "fail":
        sys.stderr.write("fail: the device said no\n")
        return 3
    if name == "sleep-forever":
        import time
        time.sleep(60)
        return 0
    return _uci([a for a in args if a not in ("-q", "-X")], "-q" in args)


def _uci(args, quiet):
    path = os.environ["FAKE_UCI_STATE"]
    with open(path) as f:
        state = json.load(f)
    cmd, rest = args[0], args[1:]

    def missing():
        if not quiet:
            sys.stderr.write("uci: Entry not found\n")
        return 1

    if rest and "." in rest[0]:
        rest[0] = _section(state, rest[0])
    if cmd == "commit":
        return 0
    if cmd == "show":
        for sec, opts in state.get(rest[0], {}).items():
            print("%s.%s=%s" % (rest[0], sec, opts[".type"]))
            for k, v in opts.items():
                if k != ".type":
                    vals = v if isinstance(v, list) else [v]
                    print("%s.%s.%s=%s" % (rest[0], sec, k, " ".join("'%s'" % x for x in vals)))
        return 0
    if cmd == "get":
        parts = rest[0].split(".")
        sec = state.get(parts[0], {}).get(parts[1])
        if sec is None or (len(parts) == 3 and parts[2] not in sec):
            return missing()
        v = sec[".type"] if len(parts) == 2 else sec[parts[2]]
        print(" ".join(v) if isinstance(v, list) else v)
        return 0
    if cmd == "add":
        pkg = state.setdefault(rest[0], {})
        name = "cfg%06x" % (len(pkg) + 0xa0000)
        pkg[name] = {".type": rest[1]}
        print(name)
    elif cmd in ("set", "add_list"):
        key, _, value = rest[0].partition("=")
        parts = key.split(".")
        pkg = state.setdefault(parts[0], {})
        if len(parts) == 2:
            pkg.setdefault(parts[1], {})[".type"] = value
        elif parts[1] not in pkg:
            return missing()
        elif cmd == "set":
            pkg[parts[1]][parts[2]] = value
        else:
            old = pkg[parts[1]].get(parts[2], [])
            pkg[parts[1]][parts[2]] = (old if isinstance(old, list) else [old]) + [value]
    elif cmd == "delete":
        parts = rest[0].split(".")
        sec = state.get(parts[0], {}).get(parts[1])
        if sec is None or (len(parts) == 3 and parts[2] not in sec):
            return missing()
        if len(parts) == 2:
            del state[parts[0]][parts[1]]
        else:
            del sec[parts[2]]
    else:
        sys.stderr.write("uci: unknown command %s\n" % cmd)
        return 1
    with open(path, "w") as f:
        json.dump(state, f)
    return 0


def _section(state, key):
    """"pkg.@type[n].opt" with the n-th section of that type named, as uci does."""
    parts = key.split(".", 2)
    if len(parts) > 1 and parts[1].startswith("@"):
        kind, _, idx = parts[1][1:].rstrip("]").partition("[")
        names = [n for n, o in state.get(parts[0], {}).items() if o[".type"] == kind]
        parts[1] = names[int(idx)] if names else parts[1]
    return ".".join(parts)
