"""One transfer's work against the lab ACS's file server on loopback: downloads (plain, with
auth, descriptors), their failures as TransferComplete faults, uploads, platform commands."""

import json
import os
import socket
import sys

import pytest

import _secrets
from tr069client import fetch, log
from tr069client.faults import CwmpFault

HOOK = r'''
import json, shutil, sys
record, out = sys.argv[1], sys.argv[2:]
files = {}
for p in out:
    try:
        with open(p, "rb") as f:
            files[p] = f.read().decode("latin-1")
    except OSError:
        pass
with open(record, "a") as f:
    f.write(json.dumps({"argv": out, "files": files}) + "\n")
'''
PRODUCER = r'''
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"log line\n" * 1000)
'''


@pytest.fixture
def env(tmp_path):
    (tmp_path / "hook.py").write_text(HOOK)
    (tmp_path / "produce.py").write_text(PRODUCER)
    record = tmp_path / "calls.jsonl"
    hook = [sys.executable, str(tmp_path / "hook.py"), str(record)]
    cfg = {"download-dir": str(tmp_path / "dl"), "firmware-command": hook, "config-alter-command": hook,
           "config-overwrite-command": hook, "vendor-log-command": [sys.executable, str(tmp_path / "produce.py")],
           "hook-timeout": 30}

    class Env:
        pass
    e = Env()
    e.cfg, e.dl = cfg, tmp_path / "dl"
    e.calls = lambda: [json.loads(x) for x in record.read_text().splitlines()] if record.exists() else []
    e.serviced = []
    e.worker = lambda ca=None: fetch.Worker(cfg, ca_file=lambda: ca, service=lambda: e.serviced.append(1))
    return e


_ids = [0]


def rec(url, file_type=fetch.FIRMWARE, kind="Download", size=0, username="", password="", target=""):
    _ids[0] += 1
    return {"id": _ids[0], "kind": kind, "key": "k", "file_type": file_type, "url": url, "username": username,
            "password": password, "size": size, "target": target, "delay": 0}


def run(worker, r):
    worker.plan(r)
    files = worker.transfer(r)
    return files, [open(p, "rb").read() for p in files]


def fault(worker, r):
    with pytest.raises(CwmpFault) as e:
        run(worker, r)
    return e.value.code, e.value.message


def leftovers(e):
    return sorted(os.listdir(str(e.dl))) if e.dl.exists() else []


def test_plain_image_streamed_to_disk(lab_acs, env):
    data = os.urandom(300 * 1024)
    w = env.worker()
    files, contents = run(w, rec(lab_acs.add_file("fw.bin", data), size=len(data)))
    assert contents == [data] and os.path.basename(files[0]).endswith("-fw.bin")
    assert oct(os.stat(str(env.dl)).st_mode & 0o777) == "0o700"
    assert len(env.serviced) >= 4  # the daemon's service ran between 64 KiB chunks
    w.clean()
    assert leftovers(env) == []


@pytest.mark.parametrize("mode", ["basic", "digest"])
def test_credentials_from_the_rpc(lab_acs, env, mode):
    url = lab_acs.add_file("cfg.alter", b"set x=1\n", auth=mode, username="fu", password=_secrets.FILE)
    r = rec(url, fetch.VENDOR_CONFIG, username="fu", password=_secrets.FILE)
    assert run(env.worker(), r)[1] == [b"set x=1\n"] and r["hook"] == "config-alter-command"
    env.worker().clean()
    code, msg = fault(env.worker(), rec(url, fetch.VENDOR_CONFIG, username="fu", password=_secrets.WRONG))
    assert code == 9012 and msg == "file server refused the credentials (HTTP 401) at %s" % url
    assert leftovers(env) == []


def test_descriptor_links_all_downloaded_in_order(lab_acs, env, make_lab_acs):
    other = make_lab_acs()
    parts = [os.urandom(70000), b"kernel", b"rootfs" * 1000]
    urls = [lab_acs.add_file("p1.bin", parts[0], auth="digest", username="fu", password=_secrets.FILE),
            other.add_file("p2.img", parts[1]),
            lab_acs.add_file("p3.img", parts[2], auth="basic", username="fu", password=_secrets.FILE)]
    desc = '<?xml version="1.0"?><upgrade version="1" type="links"><config/><links>%s</links></upgrade>' % (
        "".join("<link><url>%s</url></link>" % u for u in urls))
    r = rec(lab_acs.add_file("upgrade.xml", desc.encode(), auth="basic", username="fu", password=_secrets.FILE),
            username="fu", password=_secrets.FILE)
    files, contents = run(env.worker(), r)
    assert contents == parts
    assert [os.path.basename(f).split("-", 2)[2] for f in files] == ["p1.bin", "p2.img", "p3.img"]
    assert not any("upgrade.xml" in n for n in leftovers(env))  # the descriptor itself is gone


def test_credentials_never_go_to_another_server(lab_acs, env, make_lab_acs):
    other = make_lab_acs()
    link = other.add_file("p.bin", b"x", auth="basic", username="fu", password=_secrets.FILE)
    desc = '<upgrade version="1" type="links"><links><link><url>%s</url></link></links></upgrade>' % link
    r = rec(lab_acs.add_file("d.xml", desc.encode(), auth="basic", username="fu", password=_secrets.FILE),
            username="fu", password=_secrets.FILE)
    assert fault(env.worker(), r) == (9012, "file server requires credentials (HTTP 401) at %s but no "
                                            "username is configured" % link)


def test_bad_descriptor_is_9018(lab_acs, env):
    url = lab_acs.add_file("bad.xml", b'<?xml version="1.0"?><upgrade version="1" type="links"><links/></upgrade>')
    assert fault(env.worker(), rec(url)) == (9018, "upgrade descriptor is invalid: <links> holds no <link>")
    assert leftovers(env) == []


def test_a_failing_link_fails_the_whole_download(lab_acs, env):
    desc = '<upgrade version="1" type="links"><links><link><url>%s</url></link><link><url>%s</url></link></links></upgrade>' % (
        lab_acs.add_file("ok.bin", b"x" * 1000), lab_acs.file_url("missing.bin"))
    code, msg = fault(env.worker(), rec(lab_acs.add_file("d.xml", desc.encode())))
    assert code == 9016 and "HTTP 404" in msg


def test_wrong_size(lab_acs, env):
    url = lab_acs.add_file("fw.bin", b"x" * 5000)
    code, msg = fault(env.worker(), rec(url, size=4000))  # more than announced: stopped at once
    assert code == 9018 and "larger than the 4000 bytes allowed" in msg
    assert fault(env.worker(), rec(url, size=6000)) == (
        9018, "file at %s has 5000 bytes, not the FileSize 6000 the ACS gave" % url)
    assert leftovers(env) == []


def test_server_dies_mid_download(lab_acs, env):
    url = lab_acs.add_file("fw.bin", os.urandom(200000), die_after=100000)
    code, msg = fault(env.worker(), rec(url, size=200000))
    assert code == 9017 and "lost in the middle of a response" in msg
    assert leftovers(env) == []


def test_unreachable_server(env):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    code, msg = fault(env.worker(), rec("http://127.0.0.1:%d/fw.bin" % port))
    assert code == 9015 and "connection refused" in msg


def test_not_enough_free_space_is_checked_before_any_request(lab_acs, env, monkeypatch):
    url = lab_acs.add_file("fw.bin", b"x" * 5000)
    monkeypatch.setattr(fetch.Worker, "_free", lambda self, folder: 4096)
    code, msg = fault(env.worker(), rec(url, size=5000))
    assert code == 9010 and "not enough free space" in msg and "5000 bytes needed, 4096 free" in msg
    assert lab_acs.file_requests == []
    code, msg = fault(env.worker(), rec(url))  # no FileSize: stopped when the disk would fill
    assert code == 9010 and "not enough free space" in msg
    assert leftovers(env) == []


def test_https_verified(make_lab_acs, env, tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_pem, ca_pem = tmp_path / "cert.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_pem))
    ca.cert_pem.write_to_path(str(ca_pem))
    acs = make_lab_acs(tls=(str(cert_pem), str(cert_pem)))
    url = acs.add_file("fw.bin", b"secure image")
    assert run(env.worker(str(ca_pem)), rec(url))[1] == [b"secure image"]
    code, msg = fault(env.worker(), rec(url))  # the system's CAs do not know the lab CA
    assert code == 9015 and msg.startswith("TLS certificate of 127.0.0.1 is not trusted")


@pytest.mark.parametrize("r, code, why", [
    (rec("ftp://fs/fw.bin"), 9013, "unsupported protocol 'ftp'"),
    (rec("http://fs/x.cfg", fetch.VENDOR_CONFIG), 9003, "'x.cfg' is neither"),
    (rec("http://fs/x.alter", fetch.VENDOR_CONFIG, target="y.bin"), 9003, "'y.bin' is neither"),
    (rec("http://fs/x", "2 Web Content"), 9003, "'2 Web Content' is not supported"),
    (rec("http://fs/x", "5 Vendor Log File", kind="Upload"), 9003, "is not supported"),
    (rec("http://fs/x", "1 Vendor Configuration File", kind="Upload"), 9001,
     "vendor-config-command is not configured on this device"),
    (rec("http:///x"), 9003, "names no host"),
])
def test_refused_at_rpc_time(env, r, code, why):
    with pytest.raises(CwmpFault) as e:
        env.worker().plan(r)
    assert e.value.code == code and why in e.value.message


def test_vendor_config_file_named_by_target_or_url(env):
    w = env.worker()
    for r, hook in [(rec("http://fs/a/b.alter?v=2", fetch.VENDOR_CONFIG), "config-alter-command"),
                    (rec("http://fs/file", fetch.VENDOR_CONFIG, target="Full.OVERWRITE"), "config-overwrite-command")]:
        w.plan(r)
        assert r["hook"] == hook


def test_apply_hands_the_files_to_the_command(lab_acs, env):
    w = env.worker()
    r = rec(lab_acs.add_file("x.overwrite", b"whole config"), fetch.VENDOR_CONFIG)
    files, _ = run(w, r)
    w.apply(r, files)
    assert env.calls() == [{"argv": files, "files": {files[0]: "whole config"}}]


def test_apply_failure_is_9002(lab_acs, env):
    env.cfg["firmware-command"] = [sys.executable, "-c", "import sys; print('no space on flash'); sys.exit(1)"]
    r = rec("http://x/")
    env.worker().plan(r)
    with pytest.raises(CwmpFault) as e:
        env.worker().apply(r, ["/tmp/img"])
    assert (e.value.code, e.value.message) == (9002, "firmware-command failed (exit status 1): no space on flash")


@pytest.mark.parametrize("file_type", ["2 Vendor Log File", "4 Vendor Log File 2"])
def test_upload_by_put_with_credentials(lab_acs, env, file_type):
    url = lab_acs.upload_url("log.txt", auth="digest", username="up", password=_secrets.UPLOAD)
    r = rec(url, file_type, kind="Upload", username="up", password=_secrets.UPLOAD)
    assert run(env.worker(), r) == ([], [])
    assert lab_acs.uploads["log.txt"] == b"log line\n" * 1000
    assert r["instance"] == ("2" if file_type.startswith("4") else "")
    assert leftovers(env) == []


def test_upload_failures(lab_acs, env):
    url = lab_acs.upload_url("log.txt", auth="basic", username="up", password=_secrets.UPLOAD)
    code, msg = fault(env.worker(), rec(url, "2 Vendor Log File", kind="Upload", username="up", password=_secrets.WRONG))
    assert code == 9012 and "refused the credentials" in msg
    env.cfg["vendor-log-command"] = [sys.executable, "-c", "pass"]  # writes nothing
    code, msg = fault(env.worker(), rec(url, "2 Vendor Log File", kind="Upload"))
    assert code == 9002 and "vendor-log-command produced no file" in msg
    assert leftovers(env) == []


def test_upload_file_that_shrinks_is_9011(lab_acs, env, monkeypatch):
    # The command's size was taken, then the file shrank (a child of the command still at it).
    real = os.fstat
    monkeypatch.setattr(fetch.os, "fstat", lambda fd: os.stat_result(real(fd)[:6] + (10 ** 6,) + real(fd)[7:10]))
    code, msg = fault(env.worker(), rec(lab_acs.upload_url("log.txt"), "2 Vendor Log File", kind="Upload"))
    assert code == 9011 and "the file to upload ended 991000 bytes early" in msg
    assert leftovers(env) == []


def test_download_dir_must_be_ours(env, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    os.symlink(str(target), str(env.dl))
    code, msg = fault(env.worker(), rec("http://127.0.0.1:1/fw"))
    assert code == 9010 and "is not a folder owned by tr069client" in msg


def test_shown_url_hides_credentials():
    assert log.shown_url("http://u:secret@fs:80/a@b") == "http://u:********@fs:80/a@b"
    assert log.shown_url("https://fs/a") == "https://fs/a"
    # An unencoded "@" in the password: the host is after the last "@" of the authority.
    assert log.shown_url("http://u:p@ss@fs/a@b") == "http://u:********@fs/a@b"
    assert log.shown_url("http://u:pw@fs?x=@y") == "http://u:********@fs?x=@y"


def test_url_with_spaces_and_non_ascii_characters_is_fetched(lab_acs, env):
    # ACSs put file names into URLs as they are; http.client takes ASCII only.
    lab_acs.add_file("f\u00efrmware v2.bin", b"image")
    url = lab_acs.base_url + "/files/f\u00efrmware v2.bin"
    files, contents = run(env.worker(), rec(url))
    assert contents == [b"image"] and files[0].endswith("-f_rmware_v2.bin")
    desc = '<upgrade version="1" type="links"><links><link><url>%s</url></link></links></upgrade>' % url
    assert run(env.worker(), rec(lab_acs.add_file("d.xml", desc.encode("utf-8"))))[1] == [b"image"]


def test_a_download_leaves_a_reserve_free(monkeypatch, tmp_path):
    class St:
        f_bavail, f_frsize = 1024, 4096           # 4 MiB free
    monkeypatch.setattr(fetch.os, "statvfs", lambda folder: St())
    assert fetch.Worker._free(None, str(tmp_path)) == 3 * 1024 * 1024
    St.f_bavail = 100                            # less than the reserve
    assert fetch.Worker._free(None, str(tmp_path)) == 0
