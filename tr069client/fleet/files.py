"""A device's Download or Upload as real HTTP over the non-blocking client: downloads are
counted and discarded, uploads send a small generated file; the outcome goes back into the
daemon's transfer queue as its TransferComplete."""

import os

from ..connection import TransportError
from ..faults import FILE_CORRUPTED
from . import engine
from .client import Client

_MAX_UNSIZED = 1 << 40   # a download without FileSize is discarded: only the clock bounds it


class Transfer:
    """Runs transfer record `rec` of `device`; `on_end(transfer)` once it is over, with
    `code` (0: success) and `message` set, and `bytes` moved."""

    def __init__(self, loop, device, rec, on_end, limit=3600, ca_file=None):
        self.device, self.rec, self.on_end = device, rec, on_end
        self.code, self.message, self.bytes = 0, "", 0
        self.stopped = False        # cut short by the fleet's end: to be run again
        url, username, password, self.size, self.name = engine.start_transfer(device.dev, rec)
        self.upload = rec["kind"] == "Upload"
        self.client = None
        try:
            self.client = Client(loop, url, username, password, what="file server", limit=limit,
                                 ca_file=ca_file, max_body=self.size or _MAX_UNSIZED)
        except TransportError as e:
            self._failed(e)
            loop.call_soon(self._end)
            return
        if self.upload:
            body = self._file()
            self.client.request(rec.get("method", "PUT"), body, [
                ("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))], self._sent)
        else:
            self.client.request("GET", b"", [], self._got, on_body=self._count,
                                require_length=self.size is None)

    def _file(self):
        """What an Upload sends: the device's own values for a configuration, lines for a log."""
        d = self.device
        if "Configuration" in self.rec["file_type"]:
            lines = ["%s=%s" % kv for kv in sorted(d.store.values.items())]
        else:
            lines = ["tr069client fleet device %d: booted %d time(s)" % (d.index, d.boots)]
        self.bytes = sum(len(line) + 1 for line in lines)
        return ("\n".join(lines) + "\n").encode("utf-8")

    def _count(self, piece):
        self.bytes += len(piece)

    def _got(self, result):
        url = self.client.url
        if isinstance(result, tuple) and not 200 <= result[0] < 300:
            result = TransportError("file server answered HTTP %d for %s" % (result[0], url), "http", result[0])
        if isinstance(result, TransportError):
            self._failed(result)
        elif self.size is not None and self.bytes != self.size:
            self.code, self.message = FILE_CORRUPTED, "file at %s has %d bytes, not the FileSize %d the " \
                                                      "ACS gave" % (url, self.bytes, self.size)
        self._end()

    def _sent(self, result):
        if isinstance(result, tuple) and not 200 <= result[0] < 300:
            result = TransportError("file server answered HTTP %d to the upload to %s"
                                    % (result[0], self.client.url), "http", result[0])
        if isinstance(result, TransportError):
            self._failed(result)
        self._end()

    def _failed(self, error):
        if self.upload:
            self.code, self.message = engine.upload_fault(error)
        else:
            self.code, self.message = engine.download_fault(error, self.bytes, self.size is not None)

    @property
    def firmware_version(self):
        """The SoftwareVersion a firmware image brings: its file name without the extension."""
        return os.path.splitext(self.name)[0] or None

    def stop(self):
        self.stopped = True
        self._end()

    def _end(self):
        if self.client is not None:
            self.client.close()
        on_end, self.on_end = self.on_end, None
        if on_end is not None:
            on_end(self)
