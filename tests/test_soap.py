"""The SOAP codec on hostile input: every unusable message is a SoapError with a sentence."""

import pytest

from tr069client import soap

from _engine import INFORM_RESPONSE, drive, genieacs, make_session


def _refused(body):
    with pytest.raises(soap.SoapError) as e:
        soap.parse(body)
    return str(e.value)


def test_an_encoding_python_does_not_know_is_a_soap_error():
    body = b'<?xml version="1.0" encoding="X-NO-SUCH"?><Envelope><Body><GetRPCMethods/></Body></Envelope>'
    assert "undecodable XML" in _refused(body)


def test_an_encoding_python_does_not_know_ends_the_session_cleanly():
    s = make_session()
    drive(s, [genieacs(INFORM_RESPONSE),
              (200, {}, b'<?xml version="1.0" encoding="X-NO-SUCH"?><Envelope/>')])
    assert s.done and not s.ok and "undecodable XML" in s.error


def test_a_flood_of_tiny_elements_is_refused_before_building_a_tree():
    # 1 MiB of "<a/>" would be a 25 MB tree; a legitimate request is far smaller.
    flood = b"<a/>" * (soap._MAX_TAGS + 1)
    body = b"<Envelope><Body><GetRPCMethods>" + flood + b"</GetRPCMethods></Body></Envelope>"
    assert "XML tags" in _refused(body)


def test_a_large_legitimate_request_is_accepted():
    names = b"".join(b"<string>Device.DeviceInfo.UpTime</string>" for _ in range(16384))
    body = (b"<Envelope><Body><GetParameterValues><ParameterNames>" + names
            + b"</ParameterNames></GetParameterValues></Body></Envelope>")
    msg = soap.parse(body)
    assert msg.method == "GetParameterValues" and len(msg.elem[0]) == 16384


@pytest.mark.parametrize("code", ["\u00b2", "9" * 5000, "-1", ""])
def test_an_odd_fault_code_from_the_acs_reads_as_0(code):
    msg = soap.parse(genieacs("<soap-env:Fault><faultcode>Server</faultcode><faultstring>x</faultstring>"
                              "<detail><cwmp:Fault><FaultCode>%s</FaultCode><FaultString>Retry</FaultString>"
                              "</cwmp:Fault></detail></soap-env:Fault>" % code)[2].encode())
    assert soap.parse_fault(msg.elem) == (0, "Retry")


def test_digits_takes_ascii_unsigned_ints_only():
    assert [soap.digits(v) for v in (" 42 ", "4294967295", "\u00b2", "9" * 11, "+1", None)] == \
        [42, 4294967295, None, None, None, None]
