"""Tests of the test helper cwmp_schema: valid CPE messages pass, broken ones fail."""

import os
import shutil

import pytest

import cwmp_schema

ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:cwmp="urn:dslforum-org:cwmp-1-{v}">'
    '<SOAP-ENV:Header><cwmp:ID SOAP-ENV:mustUnderstand="1">{id}</cwmp:ID></SOAP-ENV:Header>'
    '<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>')


def message(body, version="2", msg_id="42"):
    return ENVELOPE.format(v=version, id=msg_id, body=body).encode("utf-8")


def pvs(name, value, xsd_type="xsd:string"):
    return ('<ParameterValueStruct><Name>%s</Name><Value xsi:type="%s">%s</Value>'
            '</ParameterValueStruct>' % (name, xsd_type, value))


INFORM = (
    '<cwmp:Inform><DeviceId><Manufacturer>Acme</Manufacturer><OUI>00D09E</OUI>'
    '<ProductClass>Router</ProductClass><SerialNumber>SN0001</SerialNumber></DeviceId>'
    '<Event SOAP-ENC:arrayType="cwmp:EventStruct[2]">'
    '<EventStruct><EventCode>0 BOOTSTRAP</EventCode><CommandKey></CommandKey></EventStruct>'
    '<EventStruct><EventCode>1 BOOT</EventCode><CommandKey></CommandKey></EventStruct>'
    '</Event><MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2024-05-01T10:00:00Z</CurrentTime>'
    '<RetryCount>0</RetryCount>'
    '<ParameterList SOAP-ENC:arrayType="cwmp:ParameterValueStruct[3]">'
    + pvs("Device.RootDataModelVersion", "2.19")
    + pvs("Device.DeviceInfo.UpTime", "17", "xsd:unsignedInt")
    + pvs("Device.ManagementServer.AliasBasedAddressing", "false", "xsd:boolean")
    + '</ParameterList></cwmp:Inform>')

GPV_RESPONSE = (
    '<cwmp:GetParameterValuesResponse>'
    '<ParameterList SOAP-ENC:arrayType="cwmp:ParameterValueStruct[2]">'
    + pvs("Device.DeviceInfo.Manufacturer", "Acme &amp; Co")
    + pvs("Device.DeviceInfo.UpTime", "4294967295", "xsd:unsignedInt")
    + '</ParameterList></cwmp:GetParameterValuesResponse>')

SPV_RESPONSE = '<cwmp:SetParameterValuesResponse><Status>0</Status>' \
               '</cwmp:SetParameterValuesResponse>'

SPV_FAULT = (
    '<SOAP-ENV:Fault><faultcode>Client</faultcode><faultstring>CWMP fault</faultstring>'
    '<detail><cwmp:Fault><FaultCode>9003</FaultCode><FaultString>Invalid arguments'
    '</FaultString><SetParameterValuesFault><ParameterName>Device.DeviceInfo.UpTime'
    '</ParameterName><FaultCode>9008</FaultCode><FaultString>Attempt to set a '
    'non-writable parameter</FaultString></SetParameterValuesFault>'
    '<SetParameterValuesFault><ParameterName>Device.Nope</ParameterName><FaultCode>9005'
    '</FaultCode><FaultString>Invalid parameter name</FaultString>'
    '</SetParameterValuesFault></cwmp:Fault></detail></SOAP-ENV:Fault>')

ADD_OBJECT_RESPONSE = '<cwmp:AddObjectResponse><InstanceNumber>3</InstanceNumber>' \
                      '<Status>0</Status></cwmp:AddObjectResponse>'

TRANSFER_COMPLETE = (
    '<cwmp:TransferComplete><CommandKey>fw-1</CommandKey><FaultStruct><FaultCode>0'
    '</FaultCode><FaultString></FaultString></FaultStruct>'
    '<StartTime>2024-05-01T10:00:00Z</StartTime><CompleteTime>2024-05-01T10:01:00Z'
    '</CompleteTime></cwmp:TransferComplete>')


@pytest.mark.parametrize("body", [INFORM, GPV_RESPONSE, SPV_RESPONSE, SPV_FAULT,
                                  ADD_OBJECT_RESPONSE, TRANSFER_COMPLETE],
                         ids=["Inform", "GPVResponse", "SPVResponse", "SPVFault",
                              "AddObjectResponse", "TransferComplete"])
@pytest.mark.parametrize("version", ["0", "1", "2"])
def test_valid_messages_pass(schema_validate, body, version):
    schema_validate(message(body, version))


def test_empty_post_is_valid(schema_validate):
    schema_validate(b"")


def test_session_timeout_header_of_cwmp_1_4_is_known(schema_validate):
    text = message(SPV_RESPONSE).decode().replace(
        "</SOAP-ENV:Header>",
        '<cwmp:SessionTimeout SOAP-ENV:mustUnderstand="0">30</cwmp:SessionTimeout>'
        "</SOAP-ENV:Header>")
    schema_validate(text.encode())


def failure(schema_validate, body):
    with pytest.raises(AssertionError) as err:
        schema_validate(body)
    return str(err.value)


def test_misspelt_rpc_fails(schema_validate):
    text = failure(schema_validate, message(INFORM.replace("cwmp:Inform>", "cwmp:Infrom>")))
    assert "unknown element {urn:dslforum-org:cwmp-1-2}Infrom" in text


def test_misspelt_child_fails(schema_validate):
    text = failure(schema_validate, message(INFORM.replace("RetryCount>", "RetryCnt>")))
    assert "RetryCnt" in text


def test_wrong_array_count_fails(schema_validate):
    body = GPV_RESPONSE.replace("ParameterValueStruct[2]", "ParameterValueStruct[3]")
    text = failure(schema_validate, message(body))
    assert "arrayType says 3 items, it holds 2" in text


def test_wrong_event_array_count_fails(schema_validate):
    text = failure(schema_validate, message(INFORM.replace("EventStruct[2]", "EventStruct[1]")))
    assert "Event: arrayType says 1 items, it holds 2" in text


def test_missing_xsi_type_fails(schema_validate):
    body = GPV_RESPONSE.replace('<Value xsi:type="xsd:unsignedInt">', "<Value>")
    text = failure(schema_validate, message(body))
    assert "Value of Device.DeviceInfo.UpTime has no xsi:type" in text


def test_value_outside_its_xsi_type_fails(schema_validate):
    body = GPV_RESPONSE.replace(">4294967295<", ">-1<")
    assert "Value" in failure(schema_validate, message(body))


def test_single_quoted_cwmp_namespace_fails(schema_validate):
    text = message(INFORM).decode().replace('xmlns:cwmp="urn:dslforum-org:cwmp-1-2"',
                                            "xmlns:cwmp='urn:dslforum-org:cwmp-1-2'")
    assert "double quotes" in failure(schema_validate, text.encode())


def test_missing_xml_declaration_fails(schema_validate):
    body = message(SPV_RESPONSE).split(b"\n", 1)[1]
    assert "XML declaration" in failure(schema_validate, body)


def test_id_without_must_understand_fails(schema_validate):
    body = message(SPV_RESPONSE).replace(b' SOAP-ENV:mustUnderstand="1"', b"")
    assert "mustUnderstand" in failure(schema_validate, body)


def test_bad_fault_code_fails(schema_validate):
    body = SPV_FAULT.replace("<FaultCode>9003<", "<FaultCode>1234<")
    assert "FaultCode" in failure(schema_validate, message(body))


def test_two_body_elements_fail(schema_validate):
    assert "Body holds 2 elements" in failure(
        schema_validate, message(SPV_RESPONSE + ADD_OBJECT_RESPONSE))


def test_malformed_xml_fails(schema_validate):
    assert "malformed XML" in failure(schema_validate, message(SPV_RESPONSE)[:-5])


# ---------------------------------------------------------------- schema folder

def test_configured_missing_folder_fails(monkeypatch, tmp_path):
    monkeypatch.setenv(cwmp_schema.ENV_VAR, str(tmp_path / "no-such-bbf"))
    with pytest.raises(AssertionError) as err:
        cwmp_schema.validate(message(SPV_RESPONSE))
    assert "lacks" in str(err.value) and "cwmp-1-2.xsd" in str(err.value)


def test_configured_folder_missing_one_file_fails(monkeypatch, tmp_path):
    source = _real_dir()
    (tmp_path / "soap11").mkdir()
    for name in cwmp_schema.REQUIRED_FILES:
        if name != "soap11/soap-encoding.xsd":
            shutil.copyfile(os.path.join(source, name), str(tmp_path / name))
    monkeypatch.setenv(cwmp_schema.ENV_VAR, str(tmp_path))
    with pytest.raises(AssertionError) as err:
        cwmp_schema.validate(message(SPV_RESPONSE))
    assert "soap11/soap-encoding.xsd" in str(err.value)


def test_unset_and_absent_folder_skips_schema_part_only(monkeypatch, tmp_path):
    monkeypatch.delenv(cwmp_schema.ENV_VAR, raising=False)
    monkeypatch.setattr(cwmp_schema, "DEFAULT_DIR", str(tmp_path / "absent"))
    with pytest.raises(pytest.skip.Exception):
        cwmp_schema.validate(message(SPV_RESPONSE))
    # The code checks still run without schemas.
    body = GPV_RESPONSE.replace("ParameterValueStruct[2]", "ParameterValueStruct[5]")
    with pytest.raises(AssertionError):
        cwmp_schema.validate(message(body))


def _real_dir():
    try:
        return cwmp_schema.schema_dir()
    except cwmp_schema.SchemaUnavailable as e:
        pytest.skip(str(e))
