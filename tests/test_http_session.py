"""http_session.run(): the engine driven over a hand-written fake HTTP session."""

from tr069client import http_session, transport

from _engine import END_204, INFORM_RESPONSE, FakeHttp, genieacs, make_session


def test_a_transport_error_ends_the_session_with_its_sentence():
    http = FakeHttp(transport.TransportError("ACS unreachable: connection refused (h:80)", "connect"))
    s = http_session.run(make_session(), http)
    assert s.done and not s.ok and s.error == "ACS unreachable: connection refused (h:80)"
    assert http.closed


def test_a_bug_below_the_transport_ends_the_session_not_the_daemon(logged):
    # e.g. http.client refusing a header value: a bug, which must not stop the daemon's loop.
    http = FakeHttp(UnicodeEncodeError("latin-1", "x", 0, 1, "ordinal not in range(256)"))
    s = http_session.run(make_session(), http)
    assert s.done and not s.ok and http.closed
    assert s.error.startswith("internal error while talking to the ACS (UnicodeEncodeError")
    assert "Traceback" in logged.getvalue()


def test_a_bug_in_the_engine_building_a_message_ends_the_session(logged):
    s = make_session()

    def broken():
        raise KeyError("Device.DeviceInfo.SerialNumber")
    s.next_post = broken
    http = FakeHttp()
    http_session.run(s, http)
    assert s.done and not s.ok and http.closed and http.posts == []
    assert s.error.startswith("internal error while building a message for the ACS (KeyError")


def test_between_may_end_the_session_but_not_undo_one_that_is_over():
    status, headers, body = genieacs(INFORM_RESPONSE)
    informed = (status, headers, body.encode())
    s = http_session.run(make_session(), FakeHttp(informed, END_204), between=lambda: "the daemon is stopping")
    assert not s.ok and s.error == "the daemon is stopping"
    http = FakeHttp(informed, END_204)
    s = http_session.run(make_session(), http, between=lambda: "the daemon is stopping" if len(http.posts) > 1 else None)
    assert s.done and s.ok and s.error is None and len(http.posts) == 2


def test_nothing_runs_between_a_request_and_its_answer():
    # The answer reads the model when it is written: the daemon's service (a CLI `set`, a
    # new ConnectionRequestURL) must not change it in between.
    status, headers, body = genieacs(INFORM_RESPONSE)
    gpv = genieacs("<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType=\"xsd:string[1]\">"
                   "<string>Device.ManagementServer.PeriodicInformInterval</string></ParameterNames>"
                   "</cwmp:GetParameterValues>", "r1")
    s = make_session()
    seen = []
    http = FakeHttp((status, headers, body.encode()), (gpv[0], gpv[1], gpv[2].encode()), END_204)
    assert http_session.run(s, http, between=lambda: seen.append((len(http.posts), s.answering))).ok
    # After the Inform's answer, the empty POST's (the request), and the answer's.
    assert seen == [(1, False), (3, False)]


def test_each_post_is_named_for_the_transport_s_error_sentences():
    status, headers, body = genieacs(INFORM_RESPONSE)
    gpv = genieacs("<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType=\"xsd:string[1]\">"
                   "<string>Device.ManagementServer.PeriodicInformInterval</string></ParameterNames>"
                   "</cwmp:GetParameterValues>", "r1")
    bad = genieacs("<cwmp:Nonsense/>", "r2")
    http = FakeHttp((status, headers, body.encode()), (gpv[0], gpv[1], gpv[2].encode()),
                    (bad[0], bad[1], bad[2].encode()), END_204)
    assert http_session.run(make_session(), http).ok
    assert http.names == ["Inform", "empty POST", "GetParameterValuesResponse", "fault response"]


def test_a_message_over_a_budget_ends_the_session_where_the_transport_reads_it():
    status, headers, body = genieacs(INFORM_RESPONSE)
    attrs = "".join(' a%d="1"' % i for i in range(99))
    wide = body.replace("<soap-env:Envelope ", "<soap-env:Envelope%s " % attrs)
    http = FakeHttp((status, headers, body.encode()), (200, {}, wide.encode()))
    s = http_session.run(make_session(), http)
    assert not s.ok and s.informed and http.closed
    assert s.error == "ACS sent a message with more than 64 attributes on one element"


def test_a_request_over_a_budget_is_answered_with_a_fault_through_the_transport():
    status, headers, body = genieacs(INFORM_RESPONSE)
    deep = genieacs("<cwmp:GetParameterNames><ParameterPath>%s</ParameterPath></cwmp:GetParameterNames>"
                    % ("<a>" * 49000 + "</a>" * 49000), "r1")
    http = FakeHttp((status, headers, body.encode()), (200, {}, deep[2].encode()), END_204)
    assert http_session.run(make_session(), http).ok
    assert b"<FaultCode>9004</FaultCode>" in b"".join(http.posts[2])
    assert http.names[2] == "fault response"
