"""One CWMP session of one device over the non-blocking client: the engine's bodies go out,
the ACS's answers are parsed as they arrive (soap.Reader, within its budgets) and go back in,
as http_session.run does for the daemon, but driven by callbacks."""

import traceback

from .. import log, soap
from ..connection import TransportError
from . import engine
from .client import Client

_TOO_LARGE = soap.Reader().too_large   # the daemon's sentence for an ACS message over budget


def post_headers(body, soap_action):
    """Headers of a CWMP POST as transport.AcsClient.post sends them (None: the empty POST)."""
    if soap_action is None:
        return [("Content-Length", "0")]
    return [("Content-Type", 'text/xml; charset="utf-8"'), ("SOAPAction", soap_action),
            ("Content-Length", str(len(body)))]


class Visit:
    """Runs the engine session `s` of `cpe` against its ACS; `on_end(visit)` is called once,
    when it is over. `cause` then says why it failed (None when it did not)."""

    def __init__(self, loop, cpe, s, on_end, ca_file=None, timeout=30):
        self.loop, self.device, self.s, self.on_end = loop, cpe, s, on_end
        self.started = loop.clock()
        self.cause = None
        self.client = self.reader = None
        self.url, username, password, own_ca = engine.acs_settings(cpe.dev)
        try:
            self.client = Client(loop, self.url, username, password, timeout=timeout,
                                 ca_file=ca_file or own_ca, max_body=soap.LIMITS.size,
                                 too_large=_TOO_LARGE)
        except TransportError as e:   # a URL this client cannot use
            self._abort(e.message, e.kind)
            loop.call_soon(self._end)
            return
        loop.call_soon(self._step)

    def _step(self):
        try:
            body = self.s.next_post()
        except Exception as e:  # noqa: B902 - a bug ends the session, never the fleet
            return self._internal(e, "building a message for the ACS")
        if body is None:
            return self._end()
        body = b"".join(body) if isinstance(body, list) else body
        action = None if body == b"" else ""
        # TR-069's answer is parsed as it arrives, within soap.LIMITS (as the daemon does).
        self.reader = soap.Reader()
        self.client.request("POST", body, post_headers(body, action), self._answer,
                            on_body=self.reader.feed)

    def _answer(self, result):
        if self.s.done:     # aborted while the answer was on its way
            return
        reader, self.reader = self.reader, None
        if isinstance(result, (TransportError, soap.OverBudget)):
            self._abort(str(result), getattr(result, "kind", "too-large"))
            return self._end()
        if isinstance(result, Exception):
            return self._internal(result, "reading the ACS's message")
        status, headers, _ = result
        try:
            self.s.receive(status, headers, reader)
        except Exception as e:  # noqa: B902
            return self._internal(e, "handling the ACS's message")
        if self.s.done and not self.s.ok:
            self.cause = "overloaded" if status == 503 else "http" if status not in (200, 204) else "cwmp"
        self._step()

    def _internal(self, e, step):
        log.error("internal error in the session of device %d: %s", self.device.index,
                  "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip().replace("\n", " | "))
        self._abort("internal error while %s (%s: %s)" % (step, type(e).__name__, e), "internal")
        self._end()

    def _abort(self, error, cause):
        if not self.s.done:
            self.s.abort(error)
        self.cause = cause

    def stop(self, why):
        """End the session from outside (the fleet is stopping)."""
        self._abort(why, "interrupted")
        self._end()

    def _end(self):
        if self.on_end is None:
            return
        if self.client is not None:
            self.client.close()
        on_end, self.on_end = self.on_end, None
        on_end(self)

    @property
    def latency(self):
        return self.loop.clock() - self.started
