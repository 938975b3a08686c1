"""Runs one CWMP session over HTTP: the engine's bodies go out, the ACS's answers come back."""

import re

from . import log, soap
from .transport import TransportError

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Callable, Optional

    from .session import Session
    from .transport import AcsClient


def run(session: "Session", http: "AcsClient",
        between: "Optional[Callable[[], Optional[str]]]" = None) -> "Session":
    """Drive `session` over `http` (a transport.AcsClient) until it is done, then close.

    `between()` runs after every exchange (the daemon services connection requests there);
    a sentence it returns ends the session with that reason. A bug in the engine or below the
    transport ends the session too, never the daemon: the log gets the traceback,
    `last-session-error` a sentence."""
    try:
        while True:
            step = "building a message for the ACS"
            try:
                body = session.next_post()
                if body is None:
                    break
                if log.enabled(log.DEBUG):
                    _trace("CPE -> ACS", body)
                step = "talking to the ACS"
                # The answer is parsed as it arrives, within soap.LIMITS: past one, the
                # transport stops reading and closes the connection (OverBudget).
                reader = soap.Reader(keep=log.enabled(log.DEBUG))
                try:
                    status, headers, _ = http.post(body, None if body == b"" else "", _name(body), reader)
                except (TransportError, soap.OverBudget) as e:
                    session.abort(str(e))
                    break
                body = None   # sent: a large answer of ours is not kept while the next is read
                if reader.raw is not None:
                    _trace("ACS -> CPE HTTP %d" % status, reader.raw)
                step = "handling the ACS's message"
                session.receive(status, headers, reader)
                reader = None   # nor the ACS's message while the answer to it is written
            except Exception as e:  # noqa: B902 - see the docstring
                log.error("internal error in the session: %s", _traceback())
                session.abort("internal error while %s (%s: %s); see the log"
                              % (step, type(e).__name__, e))
                break
            # Not between a request and its answer, which reads the model as the request found it.
            stop = between() if between is not None and not session.answering else None
            if stop and not session.done:
                session.abort(stop)
                break
    finally:
        http.close()
    return session


def _name(body):
    """What a body the engine built is ("Inform", "GetParameterValuesResponse", ...): its
    first element after the envelope's head, for error sentences."""
    if not body:
        return "empty POST"
    first = body[1] if isinstance(body, list) and len(body) > 1 else b""
    m = re.match(rb"\s*<[\w.-]+:([\w.-]+)", first)
    name = m.group(1).decode() if m else "message"
    return "fault response" if name == "Fault" else name


def _traceback():
    import traceback
    return traceback.format_exc().rstrip().replace("\n", " | ")


def _trace(direction, body):
    from .redact import soap_text   # only at debug level
    log.debug("%s\n%s", direction, soap_text(b"".join(body) if isinstance(body, list) else body))
