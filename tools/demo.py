#!/usr/bin/env python3
"""Demo: tr069client provisions itself against the lab ACS on loopback and the exchange is
printed as a readable transcript.

    python3 tools/demo.py [--keep DIR]

The lab ACS (Digest auth, session cookie) plans two sessions: the BOOTSTRAP session reads
the device, sets the inform interval and the connection-request credentials, adds a NAT
port mapping and asks for active notification; then it sends a connection request and the
second session ("6 CONNECTION REQUEST") reads back what was set.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from lab_acs import (LabAcs, add_object, get_parameter_names, get_parameter_values,  # noqa: E402
                     set_parameter_attributes, set_parameter_values)

CR_USER, CR_PASS = "acs", "cr-secret"
PM = "Device.NAT.PortMapping.1."


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _daemon_command(state_dir, acs, cr_port):
    # Run from the checkout when there is one beside this script, else the installed package.
    return [sys.executable, "-m", "tr069client", "run", "--state-dir", state_dir,
            "--acs-url", acs.url, "--username", "cpe", "--password", "cpe-secret",
            "--cr-address", "127.0.0.1", "--cr-port", str(cr_port), "--log-level", "info"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep", metavar="DIR", help="keep the daemon's state folder here")
    args = ap.parse_args(argv)

    state_dir = args.keep or tempfile.mkdtemp(prefix="tr069client-demo-")
    acs = LabAcs(auth="digest", username="cpe", password="cpe-secret").start()
    acs.queue_session([
        get_parameter_names("Device.ManagementServer.", True),
        get_parameter_values(["Device.DeviceInfo.", "Device.ManagementServer.PeriodicInformInterval"]),
        set_parameter_values([("Device.ManagementServer.PeriodicInformInterval", "600", "xsd:unsignedInt"),
                              ("Device.ManagementServer.ConnectionRequestUsername", CR_USER, "xsd:string"),
                              ("Device.ManagementServer.ConnectionRequestPassword", CR_PASS, "xsd:string")],
                             "demo-1"),
        add_object("Device.NAT.PortMapping.", "demo-2"),
        set_parameter_values([(PM + "ExternalPort", "8080", "xsd:unsignedInt"),
                              (PM + "InternalPort", "80", "xsd:unsignedInt"),
                              (PM + "InternalClient", "192.168.1.10", "xsd:string"),
                              (PM + "Protocol", "TCP", "xsd:string"),
                              (PM + "Enable", "true", "xsd:boolean")], "demo-3"),
        set_parameter_attributes([("Device.DeviceInfo.ProvisioningCode", 2, None)]),
    ])
    acs.queue_session([get_parameter_values([PM, "Device.ManagementServer.ParameterKey"])])

    cr_port = _free_port()
    env = dict(os.environ)
    repo = os.path.dirname(HERE)
    if os.path.isdir(os.path.join(repo, "tr069client")):
        env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    log_path = os.path.join(state_dir, "daemon.log")
    log = open(log_path, "w")
    daemon = subprocess.Popen(_daemon_command(state_dir, acs, cr_port), env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    ok = False
    try:
        acs.wait_sessions(1, timeout=20)
        cr_url = acs.informs[0]["parameters"].get("Device.ManagementServer.ConnectionRequestURL", "")
        status = acs.connection_request(cr_url, CR_USER, CR_PASS)
        if status in (200, 204):
            acs.wait_sessions(2, timeout=20)
            ok = not acs.problems
    except AssertionError as e:
        print("demo failed: %s" % e, file=sys.stderr)
    finally:
        daemon.terminate()
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()
        acs.stop()
        log.close()

    print("=== transcript (lab ACS at %s, tr069client state in %s)" % (acs.url, state_dir))
    print(acs.transcript())
    print("\n=== the daemon's log")
    with open(log_path) as f:
        sys.stdout.write(f.read())
    if acs.problems:
        print("\n=== protocol problems seen by the lab ACS")
        for p in acs.problems:
            print("  - " + p)
    if not args.keep:
        shutil.rmtree(state_dir, ignore_errors=True)
    print("\n=== demo %s" % ("succeeded" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
