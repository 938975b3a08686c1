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
    flood = b"<a/>" * (soap.LIMITS.elements + 1)
    body = b"<Envelope><Body><GetRPCMethods>" + flood + b"</GetRPCMethods></Body></Envelope>"
    msg = soap.parse(body)
    assert msg.method == "GetRPCMethods"
    assert msg.refused == "with more than %d elements" % soap.LIMITS.elements


def test_a_large_legitimate_request_is_accepted():
    names = b"".join(b"<string>Device.DeviceInfo.UpTime</string>" for _ in range(16384))
    body = (b"<Envelope><Body><GetParameterValues><ParameterNames>" + names
            + b"</ParameterNames></GetParameterValues></Body></Envelope>")
    msg = soap.parse(body)
    assert msg.method == "GetParameterValues" and len(msg.elem[0]) == 16384 and msg.refused is None


def test_a_set_of_5000_values_and_a_long_download_url_are_accepted():
    structs = "".join('<ParameterValueStruct><Name>Device.NAT.PortMapping.%d.Description</Name>'
                      '<Value xsi:type="xsd:string">mapping %d</Value></ParameterValueStruct>' % (i, i)
                      for i in range(5000))
    msg = soap.parse(genieacs('<cwmp:SetParameterValues><ParameterList soap-enc:arrayType='
                              '"cwmp:ParameterValueStruct[5000]">%s</ParameterList><ParameterKey>k'
                              '</ParameterKey></cwmp:SetParameterValues>' % structs)[2].encode())
    assert len(msg.elem[0]) == 5000 and msg.refused is None
    url = "http://fs/f.bin?" + "&".join("k%d=v" % i for i in range(200))
    msg = soap.parse(genieacs("<cwmp:Download><URL>%s</URL></cwmp:Download>" % url)[2].encode())
    assert soap.text(msg.elem, "URL") == url


SMALL = soap.LIMITS._replace(size=4096, elements=30, depth=6, attributes=6, tag=512, text=100)


def _pieces(body, limits=SMALL, piece=50):
    reader = soap.Reader(limits)
    for i in range(0, len(body), piece):
        reader.feed(body[i:i + piece])
    return reader


def test_a_request_over_a_budget_is_known_by_its_method_and_id_and_its_rest_only_counted():
    gpv = genieacs("<cwmp:GetParameterValues><ParameterNames>%s</ParameterNames></cwmp:GetParameterValues>"
                   % ("<a>" * 50), "id-7")[2].encode()
    msg = _pieces(gpv + b" " * 1000).message()
    assert (msg.method, msg.id, msg.refused) == ("GetParameterValues", "id-7", "nested deeper than 6 elements")
    with pytest.raises(soap.OverBudget) as e:
        _pieces(gpv + b" " * 5000)
    assert str(e.value) == "ACS sent a message of over 4 KiB"


@pytest.mark.parametrize("where", ["envelope", "header", "response"])
def test_a_message_over_a_budget_before_its_request_began_ends_at_once(where):
    attrs = "".join(' a%d="1"' % i for i in range(10))
    if where == "envelope":
        body = genieacs("<cwmp:GetRPCMethods/>")[2].replace("<soap-env:Envelope ",
                                                            "<soap-env:Envelope%s " % attrs)
    elif where == "header":
        body = genieacs("<cwmp:GetRPCMethods/>")[2].replace("</cwmp:ID>", "</cwmp:ID><x%s/>" % attrs)
    else:
        body = genieacs("<cwmp:InformResponse><x%s/></cwmp:InformResponse>" % attrs)[2]
    with pytest.raises(soap.OverBudget) as e:
        _pieces(body.encode())
    assert str(e.value) == "ACS sent a message with more than 6 attributes on one element"


def test_99000_attributes_are_refused_by_the_real_budgets():
    attrs = "".join(' a%d="1"' % i for i in range(99000))
    body = genieacs("<cwmp:GetParameterValues><ParameterNames%s><string>Device.</string></ParameterNames>"
                    "</cwmp:GetParameterValues>" % attrs)[2].encode()
    msg = soap.parse(body)
    assert msg.refused == "with more than 64 attributes on one element"
    with pytest.raises(soap.OverBudget):
        soap.parse(body.replace(b"<soap-env:Envelope ", b"<soap-env:Envelope%s " % attrs.encode()))


def test_whitespace_only_is_an_empty_answer():
    assert _pieces(b"  \r\n").empty and not _pieces(b" <a/>").empty


@pytest.mark.parametrize("code", ["\u00b2", "9" * 5000, "-1", ""])
def test_an_odd_fault_code_from_the_acs_reads_as_0(code):
    msg = soap.parse(genieacs("<soap-env:Fault><faultcode>Server</faultcode><faultstring>x</faultstring>"
                              "<detail><cwmp:Fault><FaultCode>%s</FaultCode><FaultString>Retry</FaultString>"
                              "</cwmp:Fault></detail></soap-env:Fault>" % code)[2].encode())
    assert soap.parse_fault(msg.elem) == (0, "Retry")


def test_digits_takes_ascii_unsigned_ints_only():
    assert [soap.digits(v) for v in (" 42 ", "4294967295", "\u00b2", "9" * 11, "+1", None)] == \
        [42, 4294967295, None, None, None, None]
