"""No secret anywhere (issue 11.5): the debug log of SOAP blanks passwords by meaning, whatever the
XML's shape; passwords reach the daemon without the command line; the files that hold them are
private. (conftest.py also checks every log line of the run for the passwords of _secrets.py.)"""

import os
import stat
import sys
import zlib

import pytest

import _secrets
from _daemon import MS, DaemonProc, wait_until
from _engine import END_204, INFORM_RESPONSE, FakeHttp, freeacs, genieacs, make_session, openacs
from lab_acs import download, set_parameter_values, upload
from tr069client import http_session, log, redact, soap

PV = "<ParameterValueStruct>%s</ParameterValueStruct>"


# The shapes that leaked through the patterns of the old log.redact (issue 11.5).
LEAKY = [
    genieacs("<cwmp:SetParameterValues><ParameterList>" + PV % (
        '<Value xsi:type="xsd:string">%s</Value><Name>%sConnectionRequestPassword</Name>' % (_secrets.CR, MS))
        + "</ParameterList><ParameterKey>k</ParameterKey></cwmp:SetParameterValues>", "v-before-n"),
    freeacs("<cwmp:SetParameterValues><ParameterList>" + PV % (
        "<cwmp:Name>%sConnectionRequestPassword</cwmp:Name><cwmp:Value>%s</cwmp:Value>" % (MS, _secrets.CR_OTHER))
        + "</ParameterList><ParameterKey>k</ParameterKey></cwmp:SetParameterValues>", "prefixed"),
    openacs("<cwmp:Download><CommandKey>d</CommandKey><FileType>1 Firmware Upgrade Image</FileType>"
            "<URL>http://u:%s@fs.example/fw.bin?a=1&b=2</URL><Username>u</Username>"
            '<Password xsi:type="xsd:string">%s</Password><FileSize>0</FileSize>'
            "<TargetFileName></TargetFileName><DelaySeconds>0</DelaySeconds></cwmp:Download>"
            % (_secrets.URL, _secrets.TRANSFER), "typed"),
]


def test_the_debug_trace_shows_no_password_in_any_shape_the_acs_uses(logged, monkeypatch):
    monkeypatch.setattr(log, "_level", log.DEBUG)
    s = http_session.run(make_session(), FakeHttp(genieacs(INFORM_RESPONSE), *(LEAKY + [END_204])))
    assert s.ok and s.methods == ["SetParameterValues", "SetParameterValues", "Download"]
    text = logged.getvalue()
    assert "ConnectionRequestPassword" in text and "fs.example/fw.bin" in text   # the messages are there
    assert text.count(redact.BLANK) == 3 and "http://u:********@fs.example" in text
    assert _secrets.leaks(text.splitlines()) == []


def test_values_of_unknown_parameters_are_blanked_those_of_known_ones_shown():
    body = genieacs("<cwmp:SetParameterValues><ParameterList>"
                    + PV % "<Name>Device.X_ACME_Wifi.Key</Name><Value>%s</Value>" % _secrets.BINDING
                    + PV % "<Name>Device.DeviceInfo.ProvisioningCode</Name><Value>shown-1</Value>"
                    + PV % "<Value>%s</Value>" % _secrets.BINDING
                    + PV % "<Name>%sPassword</Name><Value><x>%s</x></Value>" % (MS, _secrets.ACS_STRONG)
                    + "</ParameterList></cwmp:SetParameterValues>")[2].encode()
    text = redact.soap_text(body)
    assert "shown-1" in text and text.count(redact.BLANK) == 3
    assert _secrets.leaks([text]) == []


def test_a_message_that_is_no_xml_is_logged_by_size_and_checksum_only():
    body = b"<cwmp:Download><Password>" + _secrets.TRANSFER.encode() + b"</Password"
    assert redact.soap_text(body) == "(%d bytes that are not XML this client reads; crc32 %08x)" % (
        len(body), zlib.crc32(body))
    assert redact.soap_text(b"") == "(empty)"
    many = b"<a>" + b"<b/>" * 100001 + b"</a>"    # past the parser's budget: no more is parsed
    assert redact.soap_text(many).startswith("(400011 bytes that are not XML this client reads")


def test_urls_in_attributes_and_our_own_messages_and_deep_nesting():
    body = b"".join(soap.envelope(soap.DEFAULT_NS, "1", [
        '<cwmp:Inform><x a="https://me:%s@acs.example/">' % _secrets.URL,
        soap.value_struct(MS + "URL", "http://me:%s@acs.example/cwmp" % _secrets.URL, "xsd:string"),
        "</x></cwmp:Inform>"]))
    text = redact.soap_text(body)
    assert "https://me:********@acs.example/" in text and "http://me:********@acs.example/cwmp" in text
    assert _secrets.leaks([text]) == []
    deep = b"<a>" + b"<b>" * 30 + b"</b>" * 30 + b"</a>"
    assert redact.soap_text(deep).startswith("<a><b><b>")


def test_the_run_keeps_every_log_line_to_look_for_passwords(logged):
    log.warning("a line with %s in it", "no password")
    assert _secrets.LINES[-1] == "a line with no password in it"
    assert _secrets.leaks(["x %s y" % _secrets.CR]) == [(_secrets.CR, "x %s y" % _secrets.CR)]


# ---------------------------------------------------------------- passwords not on the command line

@pytest.mark.e2e
def test_passwords_from_a_file_and_the_environment_never_on_the_command_line(make_lab_acs, tmp_path, monkeypatch):
    acs = make_lab_acs(auth="basic", password=_secrets.FROM_FILE)
    pw_file = tmp_path / "acs-password"
    pw_file.write_text(_secrets.FROM_FILE + "\n")
    d = DaemonProc(tmp_path, acs, args=["--password-file", str(pw_file)], log_level="debug",
                   config={"connection-request-username": "cr"})
    d.password = _secrets.FROM_ENV        # $TR069CLIENT_PASSWORD: the file wins over it
    monkeypatch.setenv("TR069CLIENT_CR_PASSWORD", _secrets.CR_FROM_ENV)
    try:
        d.start()
        acs.wait_sessions(1)
        with open("/proc/%d/cmdline" % d.proc.pid, "rb") as f:
            cmdline = f.read().decode()
        assert str(pw_file) in cmdline and _secrets.leaks([cmdline]) == []
        url = acs.informs[-1]["parameters"][MS + "ConnectionRequestURL"]
        assert acs.connection_request(url, "cr", _secrets.CR_FROM_ENV) == 200
        acs.wait_sessions(2)
        assert acs.auth_failures == 0
    finally:
        d.stop()


# ---------------------------------------------------------------- files

HOOK = r'''
import os, stat, sys
record, args = sys.argv[1], sys.argv[2:]
if os.environ.get("TR069_FILE_TYPE", "").startswith(("1 Vendor", "2 Vendor")):
    open(args[-1], "w").write("log\n")     # with the umask it inherited: 022
with open(record, "a") as f:
    for p in args:
        f.write("%s %o\n" % (os.path.basename(p), stat.S_IMODE(os.stat(p).st_mode)))
'''


@pytest.mark.e2e
def test_state_download_and_control_files_are_private(make_lab_acs, tmp_path, umask=0o022):
    acs = make_lab_acs()
    acs.add_file("fw.bin", b"image", auth="basic", password=_secrets.FIRMWARE)
    (tmp_path / "hook.py").write_text(HOOK)
    record = tmp_path / "modes"
    hook = [sys.executable, str(tmp_path / "hook.py"), str(record)]
    d = DaemonProc(tmp_path, acs, log_level="debug", config={
        "firmware-command": hook, "reboot-command": ["true"], "vendor-log-command": hook,
        "download-dir": str(tmp_path / "dl")})
    os.makedirs(d.state_dir, mode=0o755)
    os.chmod(d.state_dir, 0o755)            # as a package might leave it
    acs.queue(download("k", "1 Firmware Upgrade Image", acs.file_url("fw.bin"), "file-user", _secrets.FIRMWARE),
              upload("u", "2 Vendor Log File", acs.upload_url("log", auth="basic", password=_secrets.UPLOAD),
                     "file-user", _secrets.UPLOAD),
              set_parameter_values([(MS + "ConnectionRequestPassword", _secrets.CR)]))
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)          # noqa: E731
    old = os.umask(umask)
    try:
        d.start()
        assert wait_until(lambda: d.proc.poll() is not None, 20), d.log()   # the reboot after the firmware
        assert mode(d.state_dir) == 0o700 and mode(os.path.join(d.state_dir, "state.json")) == 0o600
        assert mode(str(tmp_path / "dl")) == 0o700
        d.start()                              # the Upload runs now
        assert mode(os.path.join(d.state_dir, "control.sock")) == 0o600
        assert wait_until(lambda: "Upload 2 done" in d.log(), 20), d.log()
        # The session that reports it starts at once: stopping the daemon in it broke the ACS's pipe.
        d.wait_log(r"session done \([^)]*M Upload", 20)
    finally:
        os.umask(old)
        d.stop()
    modes = dict(line.split() for line in record.read_text().splitlines())
    assert modes == {"t1-0-fw.bin": "600", "t2-upload": "600"}, modes
