"""Every answer of the engine is valid in the namespace it is sent in, whatever the ACS sends
(issue 15.8): a fixed seed of mutated requests in cwmp-1-0, 1-1 and 1-2 (see _fuzz.py)."""

import _fuzz


def test_mutated_requests_get_answers_valid_in_their_namespace():
    problems = _fuzz.run(seed=1, count=400)
    assert problems == [], "%d invalid answers, the first:\n%s" % (len(problems), problems[:1])


def test_the_fuzzer_sees_what_it_must():
    # The invariant catches an answer in the wrong namespace, or one its schema lacks.
    import cwmp_schema
    from tr069client import soap
    schemas = cwmp_schema.load_schemas()
    ns10, ns12 = soap.CWMP_NAMESPACES[0], soap.CWMP_NAMESPACES[2]
    request = next(body for ns, body in _fuzz.requests(1, 50) if b"xmlns:cwmp=\"%s\"" % ns10.encode() in body
                   and _fuzz.expected_namespace(ns10, body) == ns10)
    answer = b"".join(soap.envelope(ns10, "x", ["<cwmp:CancelTransferResponse/>"]))
    assert any("unknown element" in p for p in _fuzz.answer_problems(ns10, request, answer, schemas))
    answer = b"".join(soap.envelope(ns12, "x", ["<cwmp:GetRPCMethodsResponse>" + soap.array(
        "MethodList", "xsd:string", ["<string>Inform</string>"]) + "</cwmp:GetRPCMethodsResponse>"]))
    assert _fuzz.answer_problems(ns10, request, answer, schemas) == ["answered outside %s" % ns10]
