"""One CWMP session as a state machine: bytes and HTTP statuses in, bodies to POST out; no I/O.

    INFORM --Inform--> WAIT_INFORM_RESPONSE --InformResponse--> CPE_TURN
    CPE_TURN: a queued CPE request (unless HoldRequests) --> WAIT_CPE_RESPONSE --> CPE_TURN
              otherwise the empty POST --> WAIT_ACS
    WAIT_ACS: 204 or an empty 200 --> DONE (ok); an ACS request --> RESPOND --response--> WAIT_ACS
    anything unusable from the ACS --> DONE (failed, `error` says why)
"""

import itertools
from collections import namedtuple

from . import log, namespaces, soap
from .datatypes import readback, xsd_type
from .faults import CwmpFault, METHOD_NOT_SUPPORTED, RESOURCES_EXCEEDED
from .metadata import generic
from .rpcs import Context
from .soap import SoapError, element, escape

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Callable, Iterable, List, Mapping, Optional, Sequence, Union

    from .model import Model

INFORM, WAIT_INFORM_RESPONSE, CPE_TURN, WAIT_CPE_RESPONSE, WAIT_ACS, RESPOND, DONE = range(7)

DeviceId = namedtuple("DeviceId", "manufacturer oui product_class serial_number")
# A request the CPE makes (TransferComplete, ...): `body(ns)` is its XML in the session's
# namespace, `token` comes back in `acknowledged`.
CpeRequest = namedtuple("CpeRequest", "method body token")


class Session:
    """Drive it with `next_post()` and `receive()` until `done`; then read `ok`, `error`,
    `informed`, `actions` (actions.py: the work left for the session's end),
    `acknowledged`, `retry_after` and `summary`. `commit()` persists the model's stored
    state (None, or why it could not), so that a change the ACS is told was applied survives
    a power cut; None: nothing is persisted."""

    def __init__(self, model: "Model", device_id: DeviceId, events: "Iterable[Sequence[str]]",
                 retry_count: int, now: str, new_id: "Callable[[], str]",
                 inform_params: "Iterable[str]" = (), cpe_requests: "Iterable[CpeRequest]" = (),
                 handlers: "Optional[Mapping]" = None, ns: str = soap.DEFAULT_NS,
                 commit: "Optional[Callable[[], Optional[str]]]" = None):
        self.model = model
        self.device_id = device_id
        self.events = [tuple(e) for e in events]
        self.retry_count = retry_count
        self.now = now              # CurrentTime, already formatted as a dateTime
        self._new_id = new_id       # randomness is a parameter: tests pass a counter
        self.inform_params = list(inform_params)
        self.cpe_requests = list(cpe_requests)
        self.ctx = Context(model, handlers, commit)
        self.ns = ns
        self.state = INFORM
        self.ok = False
        self.informed = False
        self.error = None
        self.retry_after = None
        self.hold_requests = False
        self.acknowledged = []
        self.methods = []           # what the ACS asked, for the session's log line
        self._pending = None        # (ns, id, body) of the response to send next
        self._request = None        # the CpeRequest awaiting its answer

    @property
    def done(self) -> bool:
        return self.state == DONE

    @property
    def answering(self) -> bool:
        """An ACS request was handled; next_post() writes its answer from the model as it is
        then (a large one as it goes), so nothing may change the model before."""
        return self.state == RESPOND

    @property
    def actions(self) -> "List[tuple]":
        """The work left for the end of the session, in the order the RPCs asked for it."""
        return self.ctx.actions

    def next_post(self) -> "Optional[object]":
        """The body to POST next: a list of byte chunks, b"" for the empty POST, None when done."""
        if self.state == INFORM:
            self.state = WAIT_INFORM_RESPONSE
            self.model.begin_session()
            return soap.envelope(self.ns, self._new_id(), [self._inform()])
        if self.state == CPE_TURN:
            if self.cpe_requests and not self.hold_requests:
                self._request = self.cpe_requests.pop(0)
                self.state = WAIT_CPE_RESPONSE
                return soap.envelope(self.ns, self._new_id(), [self._request.body(self.ns)])
            self.state = WAIT_ACS
            return b""
        if self.state == RESPOND:
            ns, msg_id, body = self._pending
            self._pending = None
            self.state = WAIT_ACS
            return soap.envelope(ns, msg_id, body)
        if self.state == DONE:
            return None
        raise RuntimeError("next_post() called while waiting for the ACS (state %d)" % self.state)

    def receive(self, status: int, headers: "Mapping[str, str]",
                body: "Union[bytes, soap.Reader]") -> None:
        """Take the ACS's HTTP answer to the last POST; `body` is its bytes, or the soap.Reader
        that was fed them as they arrived."""
        if self.state not in (WAIT_INFORM_RESPONSE, WAIT_CPE_RESPONSE, WAIT_ACS):
            raise RuntimeError("receive() called when no answer is expected (state %d)" % self.state)
        if status == 503:
            self.retry_after = _retry_after(headers.get("retry-after"))
            return self._fail("ACS is overloaded (HTTP 503)%s" % (
                ", it asks to come back in %d s" % self.retry_after if self.retry_after else ""))
        if status not in (200, 204):
            return self._fail("ACS answered HTTP %d to the %s" % (status, self._what_we_sent()))
        try:
            reader = body if isinstance(body, soap.Reader) else soap.read(body)
        except soap.OverBudget as e:
            return self._fail(str(e))
        empty = status == 204 or reader.empty
        if self.state == WAIT_INFORM_RESPONSE:
            return self._on_inform_answer(empty, reader)
        if empty:
            if self.state == WAIT_CPE_RESPONSE:
                log.info("ACS ended the session without answering %s", self._request.method)
            self.state = DONE
            self.ok = True
            return
        try:
            msg = reader.message()
        except SoapError as e:
            if self.state == WAIT_CPE_RESPONSE:
                # GenieACS answers unknown CPE methods with malformed XML: take it as "no".
                log.warning("ACS gave an unusable answer to %s (%s); taking it as not supported",
                            self._request.method, e)
                self.state = CPE_TURN
                return
            return self._fail(str(e))
        if msg.hold_requests or self.state == WAIT_ACS:
            self.hold_requests = msg.hold_requests
        if self.state == WAIT_CPE_RESPONSE:
            return self._on_cpe_answer(msg)
        self._handle(msg)

    # --- states ---------------------------------------------------------------------------

    def _on_inform_answer(self, empty, reader):
        if empty:
            return self._fail("ACS ended the session without answering the Inform")
        try:
            msg = reader.message()
        except SoapError as e:
            return self._fail(str(e))
        if msg.method == "Fault":
            code, text_ = soap.parse_fault(msg.elem)
            return self._fail("ACS refused the Inform with fault %d%s" % (code, ": " + text_ if text_ else ""))
        if msg.method != "InformResponse":
            return self._fail("ACS answered the Inform with %s instead of InformResponse" % msg.method)
        self.informed = True
        self.hold_requests = msg.hold_requests
        if msg.ns:
            self.ns = msg.ns
        self.state = CPE_TURN

    def _on_cpe_answer(self, msg):
        req = self._request
        if msg.method == req.method + "Response":
            self.acknowledged.append(req.token)
        elif msg.method == "Fault":
            code, text_ = soap.parse_fault(msg.elem)
            log.warning("ACS refused %s with fault %d %s", req.method, code, text_)
        else:
            # An ACS request instead of our answer breaks the protocol; answer it anyway.
            log.warning("ACS sent %s while %s awaited its response", msg.method, req.method)
            self.cpe_requests.insert(0, req)
            return self._handle(msg)
        self.state = CPE_TURN

    def _handle(self, msg):
        # The answer's namespace, decided once: the one the ACS used for this request (by the
        # method element, else the ID header), else the session's. Whether the method exists,
        # and every code and enumeration in the answer, are taken from that same namespace.
        ns = msg.ns or self.ns
        if msg.id is None:
            log.debug("ACS request %s has no cwmp:ID header", msg.method)
        self.methods.append(msg.method)
        handler = self.ctx.handlers.get(msg.method)
        try:
            if handler is None and (msg.method == "Fault" or msg.method.endswith("Response")):
                return self._fail("ACS sent %s where a request or the end of the session "
                                  "was expected" % msg.method)
            if handler is None:
                raise CwmpFault(METHOD_NOT_SUPPORTED, "%s is not supported" % msg.method)
            if msg.method not in namespaces.methods(ns):
                raise CwmpFault(METHOD_NOT_SUPPORTED, "%s is not part of %s" % (msg.method, ns))
            if msg.refused:   # not read to its end: see soap.Reader
                raise CwmpFault(RESOURCES_EXCEEDED, "%s refused: a message %s" % (msg.method, msg.refused))
            self.ctx.ns = ns
            inner = handler(self.ctx, msg.elem)
            # A large answer's parts are made as soap.envelope() writes it (see rpcs).
            body = itertools.chain(("<cwmp:%sResponse>" % msg.method,), (inner,) if isinstance(inner, str)
                                   else inner, ("</cwmp:%sResponse>" % msg.method,))
        except CwmpFault as f:
            log.info("answering %s with fault %d: %s", msg.method, f.code, f.message)
            body = [soap.fault(namespaces.fault_code(ns, f.code), f.message,
                               [(n, namespaces.fault_code(ns, c), m) for n, c, m in f.details])]
        self._pending = (ns, msg.id or "", body)
        self.state = RESPOND

    def abort(self, error: str) -> None:
        """End the session from outside (the transport failed); `error` is the reason."""
        self._fail(error)

    def _fail(self, error):
        self.error = error
        self.ok = False
        self.state = DONE

    def _what_we_sent(self):
        return {WAIT_INFORM_RESPONSE: "Inform", WAIT_CPE_RESPONSE: self._request and self._request.method,
                WAIT_ACS: "session"}.get(self.state, "request")

    # --- the Inform -------------------------------------------------------------------------

    def _inform(self):
        d = self.device_id
        view = self.model.values()
        params = []
        # dict.fromkeys: first occurrence wins, in linear time (notified parameters may be many).
        for n in dict.fromkeys(list(self.model.meta.forced_inform) + self.inform_params):
            p = self.model.meta.param(generic(n)) if n in view else None
            if p is not None:
                params.append(soap.value_struct(n, readback(p, view[n]), xsd_type(p)))
        events = ["<EventStruct>%s%s</EventStruct>" % (element("EventCode", c), element("CommandKey", k))
                  for c, k in self.events]
        return ("<cwmp:Inform><DeviceId>%s%s%s%s</DeviceId>%s<MaxEnvelopes>1</MaxEnvelopes>"
                "<CurrentTime>%s</CurrentTime><RetryCount>%d</RetryCount>%s</cwmp:Inform>" % (
                    element("Manufacturer", d.manufacturer), element("OUI", d.oui),
                    element("ProductClass", d.product_class), element("SerialNumber", d.serial_number),
                    soap.array("Event", "cwmp:EventStruct", events), escape(self.now),
                    self.retry_count, soap.array("ParameterList", "cwmp:ParameterValueStruct", params)))

    @property
    def summary(self) -> str:
        """One line for the log: what happened in this session."""
        ev = ", ".join(c + (" " + k if k else "") for c, k in self.events) or "no events"
        runs = []   # GenieACS asks GetParameterValues in batches of 32: say "x 32" once
        for m in self.methods:
            if runs and runs[-1][0] == m:
                runs[-1][1] += 1
            else:
                runs.append([m, 1])
        asked = ", ".join(m if n == 1 else "%s x%d" % (m, n) for m, n in runs) or "nothing"
        if self.ok:
            return "session done (%s); ACS asked: %s" % (ev, asked)
        return "session failed (%s): %s" % (ev, self.error)


def _retry_after(value):
    """Retry-After in seconds (delta form; an HTTP-date falls back to None)."""
    seconds = soap.digits(value)
    return None if seconds is None else min(seconds, 86400)


def transfer_complete(command_key, fault_code, fault_string, start_time, complete_time, upload=False):
    """The body(ns) of a TransferComplete request (TR-069 A.3.3.2), its fault code as `ns`
    can carry it (`upload`: the code of last resort is 9011, not 9010)."""
    return lambda ns: _transfer_complete(command_key, namespaces.transfer_code(ns, fault_code, upload),
                                         fault_string, start_time, complete_time)


def _transfer_complete(command_key, fault_code, fault_string, start_time, complete_time):
    return ("<cwmp:TransferComplete>%s<FaultStruct>%s%s</FaultStruct>%s%s</cwmp:TransferComplete>" % (
        element("CommandKey", command_key), element("FaultCode", str(fault_code)),
        element("FaultString", fault_string), element("StartTime", start_time),
        element("CompleteTime", complete_time)))
