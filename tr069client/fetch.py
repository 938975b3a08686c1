"""The work of one transfer: which platform command a file type needs, downloading files (and
the links of an upgrade descriptor) to disk, producing and uploading files, and applying
what was downloaded. Every failure is a CwmpFault whose code TransferComplete may carry.

A firmware file whose first bytes are XML is taken for an upgrade descriptor (descriptor.py);
the RPC's credentials go to the descriptor's links only when they are on the same server."""

import os
import re
import stat
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from . import config, descriptor, file_transfer, log, platform_commands, transport
from .faults import (CwmpFault, CANNOT_ACCESS_FILE, CANNOT_COMPLETE_DOWNLOAD,
                     CANNOT_CONTACT_SERVER, FILE_CORRUPTED, INTERNAL_ERROR, INVALID_ARGUMENTS,
                     REQUEST_DENIED, SERVER_AUTH_FAILURE, TRANSFER_FAILURE, UNSUPPORTED_PROTOCOL,
                     UPLOAD_FAILURE)

FIRMWARE = "1 Firmware Upgrade Image"
VENDOR_CONFIG = "3 Vendor Configuration File"
_UPLOAD_TYPE = re.compile(r"^(?:([12]) (Vendor Configuration File|Vendor Log File)"
                          r"|([34]) (Vendor Configuration File|Vendor Log File) ([1-9][0-9]{0,8}))$")
# Our files in the download folder: t<transfer id>-...; nothing else there is touched.
_OURS = re.compile(r"^t([0-9]+)-")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_HTTP_TIMEOUT = 30
_RESERVE = 1 << 20
_PCHARS = "/%:@!$&'()*+,;="   # RFC 3986 path characters besides the unreserved ones


def _encoded(url):
    """`url` with spaces, controls and non-ASCII characters of its path and query
    percent-encoded (UTF-8), as browsers send them; http.client takes ASCII only. The
    fragment is dropped: it is never sent."""
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, quote(p.path, safe=_PCHARS), quote(p.query, safe=_PCHARS + "?"), ""))


def check_url(url):
    """Refuse what cannot be fetched at all: 9013 for another scheme (TR-069 A.3.2.8)."""
    try:
        parts = urlsplit(url)
        parts.port
    except ValueError:
        raise CwmpFault(INVALID_ARGUMENTS, "URL %s is not valid" % log.shown_url(url))
    if parts.scheme.lower() not in ("http", "https"):
        raise CwmpFault(UNSUPPORTED_PROTOCOL, "unsupported protocol %r for file transfer (only http and https)"
                        % parts.scheme)
    if not parts.hostname:
        raise CwmpFault(INVALID_ARGUMENTS, "URL %s names no host" % log.shown_url(url))


def _file_name(rec):
    """The file's own name, from TargetFileName or else the URL path (never guessed)."""
    name = (rec.get("target") or "").replace("\\", "/").rsplit("/", 1)[-1]
    if not name:
        name = unquote(urlsplit(rec["url"]).path).rsplit("/", 1)[-1]
    return name


def _credentials(url, username, password):
    """The RPC's credentials, or those embedded in the URL when the RPC gave none."""
    if username:
        return username, password
    parts = urlsplit(url)
    if parts.username:
        return unquote(parts.username), unquote(parts.password or "")
    return "", ""


def source(rec):
    """(URL as it is requested, username, password, size the ACS gave or None, file name) of
    the transfer `rec`: what a download or upload of it asks of the server."""
    username, password = _credentials(rec["url"], rec["username"], rec["password"])
    return _encoded(rec["url"]), username, password, rec["size"] or None, _file_name(rec)


def upload_fault(e):
    """TransferComplete's fault for an upload that failed with the TransportError `e`."""
    return CwmpFault(SERVER_AUTH_FAILURE if e.kind == "auth" else UPLOAD_FAILURE, e.message)


def _origin(url):
    p = urlsplit(url)
    return (p.scheme.lower(), (p.hostname or "").lower(), p.port)


class Worker:
    """Performs transfers for the queue: `plan` at RPC time, then `transfer` and `apply`."""

    def __init__(self, cfg, ca_file=lambda: None, service=None, wait=lambda: None):
        self.cfg = cfg
        self.folder = config.get(cfg, "download-dir")
        self.ca_file = ca_file
        self.service = service or (lambda: None)
        self.wait = wait   # the transport's wait, which serves the daemon while a server is slow

    # --- at RPC time ------------------------------------------------------------------------

    def plan(self, rec):
        """Pick the platform command for `rec` (sets rec["hook"]), or refuse the RPC."""
        check_url(rec["url"])
        ft = rec["file_type"]
        if rec["kind"] == "Download":
            if ft == FIRMWARE:
                hook = "firmware-command"
            elif ft == VENDOR_CONFIG:
                name = _file_name(rec)
                low = name.lower()
                if low.endswith(".alter"):
                    hook = "config-alter-command"
                elif low.endswith(".overwrite"):
                    hook = "config-overwrite-command"
                else:
                    raise CwmpFault(INVALID_ARGUMENTS, "a Vendor Configuration File must be named "
                                    "*.alter (changes) or *.overwrite (whole configuration), by "
                                    "TargetFileName or URL; %r is neither" % name[:64])
            else:
                raise CwmpFault(INVALID_ARGUMENTS, "Download FileType %r is not supported (only %s, %s)"
                                % (ft, FIRMWARE, VENDOR_CONFIG))
        else:
            m = _UPLOAD_TYPE.match(ft)
            if not m:
                raise CwmpFault(INVALID_ARGUMENTS, "Upload FileType %r is not supported (only "
                                "1 Vendor Configuration File, 2 Vendor Log File and the "
                                "forms 3/4 with an instance number)" % ft)
            kind = m.group(2) or m.group(4)
            rec["instance"] = m.group(5) or ""
            hook = "vendor-config-command" if kind == "Vendor Configuration File" else "vendor-log-command"
        if platform_commands.command(self.cfg, hook) is None:
            raise CwmpFault(REQUEST_DENIED, "%s is not configured on this device" % hook)
        rec["hook"] = hook

    # --- files ------------------------------------------------------------------------------

    def _folder(self):
        """The download folder, created private; refused if someone else could swap its files."""
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            st = os.lstat(self.folder)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
                raise CwmpFault(TRANSFER_FAILURE, "download-dir %s is not a folder owned by "
                                "tr069client" % self.folder)
            if st.st_mode & 0o077:
                os.chmod(self.folder, 0o700)
        except OSError as e:
            raise CwmpFault(TRANSFER_FAILURE, "cannot use download-dir %s: %s"
                            % (self.folder, e.strerror or e))
        return self.folder

    def _free(self, folder):
        """Bytes a download may take: the folder is RAM on OpenWrt, and a router whose
        /tmp is full down to the last byte fails in odd ways, so 1 MiB stays free."""
        st = os.statvfs(folder)
        return max(0, st.f_bavail * st.f_frsize - _RESERVE)

    def clean(self, keep=()):
        """Remove our files of every transfer not in `keep` (ids)."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        for name in names:
            m = _OURS.match(name)
            if m and int(m.group(1)) not in keep:
                _unlink(os.path.join(self.folder, name))

    # --- Download -----------------------------------------------------------------------

    def transfer(self, rec):
        """Do the transfer of `rec`: the downloaded file paths, or [] once an Upload is sent."""
        if rec["kind"] == "Upload":
            self._upload(rec)
            return []
        folder = self._folder()
        base = _UNSAFE.sub("_", _file_name(rec))[-64:].lstrip(".") or "file"
        username, password = _credentials(rec["url"], rec["username"], rec["password"])
        path = self._download(rec, rec["url"], username, password, folder,
                              "t%d-0-%s" % (rec["id"], base), rec["size"] or None)
        if rec["file_type"] != FIRMWARE or not _is_descriptor(path):
            return [path]
        try:
            with open(path, "rb") as f:
                data = f.read(descriptor.MAX_SIZE + 1)
        except OSError as e:
            raise CwmpFault(TRANSFER_FAILURE, "cannot read %s: %s" % (path, e.strerror or e))
        finally:
            _unlink(path)
        upgrade = descriptor.read(data)
        urls = upgrade.urls
        # What the device must run after the reboot for the upgrade to count as done.
        rec["expect_version"] = upgrade.software_version
        log.info("upgrade descriptor from %s lists %d file(s)%s", log.shown_url(rec["url"]), len(urls),
                 ", for software version %s" % upgrade.software_version if upgrade.software_version else "")
        paths = []
        origin = _origin(rec["url"])
        for n, url in enumerate(urls, 1):
            # The RPC's credentials go only to the server they were given for.
            user, pw = (username, password) if _origin(url) == origin else _credentials(url, "", "")
            name = _UNSAFE.sub("_", unquote(urlsplit(url).path).rsplit("/", 1)[-1])[-64:].lstrip(".")
            paths.append(self._download(rec, url, user, pw, folder,
                                        "t%d-%d-%s" % (rec["id"], n, name or "file"), None))
        return paths

    def _download(self, rec, url, username, password, folder, name, expected):
        """One URL streamed to folder/name (via name.part); its path."""
        shown = log.shown_url(url)
        free = self._free(folder)
        if expected is not None and expected > free:
            raise CwmpFault(TRANSFER_FAILURE, "not enough free space in %s for %s: %d bytes "
                            "needed, %d free" % (folder, shown, expected, free))
        path = os.path.join(folder, name)
        part = path + ".part"
        _unlink(part)
        got = [0]

        def on_chunk(n):
            got[0] += n
            self.service()
        log.info("downloading %s", shown)
        try:
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "wb") as f:
                total = file_transfer.download(_encoded(url), f, username, password, self.ca_file(),
                                               _HTTP_TIMEOUT, expected if expected is not None else free,
                                               on_chunk, require_length=expected is None,
                                               limit=config.get(self.cfg, "transfer-timeout"),
                                               wait=self.wait())
                f.flush()
                os.fsync(f.fileno())
            if expected is not None and total != expected:
                raise CwmpFault(FILE_CORRUPTED, "file at %s has %d bytes, not the FileSize %d the "
                                "ACS gave" % (shown, total, expected))
            os.replace(part, path)
        except transport.TransportError as e:
            _unlink(part)
            raise download_fault(e, got[0], expected is not None, folder)
        except OSError as e:
            _unlink(part)
            raise CwmpFault(TRANSFER_FAILURE, "cannot write %s: %s" % (part, e.strerror or e))
        except BaseException:
            _unlink(part)
            raise
        log.info("downloaded %s (%d bytes)", shown, total)
        return path

    # --- Upload -------------------------------------------------------------------------

    def _upload(self, rec):
        folder = self._folder()
        path = os.path.join(folder, "t%d-upload" % rec["id"])
        _unlink(path)
        try:
            old = os.umask(0o077)   # the file the command writes is private from the start
            try:
                self._run(rec["hook"], [path], {"TR069_FILE_TYPE": rec["file_type"],
                                                "TR069_INSTANCE": rec.get("instance", "")})
            finally:
                os.umask(old)
            try:
                f = open(path, "rb")
            except OSError as e:
                raise CwmpFault(INTERNAL_ERROR, "%s produced no file %s: %s"
                                % (rec["hook"], path, e.strerror or e))
            with f:
                try:
                    os.fchmod(f.fileno(), 0o600)   # the command's own umask may have been looser
                except OSError:
                    pass   # not ours to change: the folder (0700) keeps it private all the same
                size = os.fstat(f.fileno()).st_size
                url, username, password, _, _ = source(rec)
                shown = log.shown_url(rec["url"])
                log.info("uploading %d bytes to %s", size, shown)
                try:
                    status = file_transfer.upload(url, f, size, username, password,
                                                  self.ca_file(), _HTTP_TIMEOUT,
                                                  limit=config.get(self.cfg, "transfer-timeout"),
                                                  wait=self.wait())
                except transport.TransportError as e:
                    raise upload_fault(e)
                except (OSError, EOFError) as e:   # EOFError: the file shrank while sent
                    raise CwmpFault(UPLOAD_FAILURE, "cannot read %s: %s"
                                    % (path, getattr(e, "strerror", None) or e))
            if not 200 <= status < 300:
                raise CwmpFault(UPLOAD_FAILURE, "file server answered HTTP %d to the upload to %s"
                                % (status, shown))
        finally:
            _unlink(path)

    # --- applying -------------------------------------------------------------------------

    def apply(self, rec, files, started=None):
        """Hand the downloaded files to the platform command of `rec`; `started(process group)`
        is called once it runs."""
        self._run(rec["hook"], files, {"TR069_FILE_TYPE": rec["file_type"]}, started)

    def _run(self, name, args, env, started=None):
        argv = platform_commands.command(self.cfg, name)
        if argv is None:
            raise CwmpFault(INTERNAL_ERROR, "%s is not configured on this device" % name)
        try:
            platform_commands.run(name, argv, args, platform_commands.timeout(self.cfg, name), env, self.service,
                      started=started)
        except platform_commands.CommandError as e:
            raise CwmpFault(INTERNAL_ERROR, str(e))


def _is_descriptor(path):
    try:
        with open(path, "rb") as f:
            return descriptor.looks_like(f.read(256))
    except OSError:
        return False


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        log.warning("cannot remove %s: %s", path, e.strerror or e)


def download_fault(e, received, sized, folder):
    """TransferComplete's fault for a download that failed with the TransportError `e` after
    `received` bytes, of a file whose size the ACS gave (`sized`), into `folder` (TR-069
    A.3.3.2 codes)."""
    if e.kind == "too-large":
        if sized:
            return CwmpFault(FILE_CORRUPTED, e.message + " (the FileSize the ACS gave)")
        return CwmpFault(TRANSFER_FAILURE, "%s: not enough free space in %s" % (e.message, folder))
    if e.kind == "auth":
        return CwmpFault(SERVER_AUTH_FAILURE, e.message)
    if e.kind == "http":
        return CwmpFault(CANNOT_ACCESS_FILE, e.message)
    if e.kind in ("connect", "dns", "timeout", "tls"):
        return CwmpFault(CANNOT_COMPLETE_DOWNLOAD if received else CANNOT_CONTACT_SERVER, e.message)
    return CwmpFault(TRANSFER_FAILURE, e.message)
