"""The RPC functions on odd arguments: each is a fault with a reason, never a surprise."""

import pytest

from tr069client import rpcs, soap
from tr069client.actions import ScheduleInform
from tr069client.faults import CwmpFault

from _engine import genieacs, make_model


def _call(inner, model=None):
    ctx = rpcs.Context(model or make_model())
    msg = soap.parse(genieacs(inner)[2].encode())
    return ctx, rpcs.RPCS[msg.method](ctx, msg.elem)


def _fault(inner, model=None):
    with pytest.raises(CwmpFault) as e:
        _call(inner, model)
    return e.value


def _schedule(delay):
    return ("<cwmp:ScheduleInform><DelaySeconds>%s</DelaySeconds><CommandKey>c</CommandKey>"
            "</cwmp:ScheduleInform>" % delay)


@pytest.mark.parametrize("delay", ["0", "-5", "4294967296", "9" * 400, "\u0662", "1e3", ""])
def test_schedule_inform_takes_only_an_unsigned_int_of_at_least_one(delay):
    f = _fault(_schedule(delay))
    assert f.code == 9003 and "DelaySeconds" in f.message


def test_schedule_inform_becomes_an_action():
    ctx, _ = _call(_schedule(" 4294967295 "))
    assert ctx.actions == [ScheduleInform(4294967295, "c")] and type(ctx.actions[0]) is ScheduleInform


@pytest.mark.parametrize("note", ["\u0662", "3", "-1", "9" * 5000])
def test_set_parameter_attributes_notification_is_0_1_or_2_in_ascii(note):
    m = make_model()
    f = _fault("<cwmp:SetParameterAttributes><ParameterList><SetParameterAttributesStruct>"
               "<Name>Device.ManagementServer.URL</Name><NotificationChange>1</NotificationChange>"
               "<Notification>%s</Notification><AccessListChange>0</AccessListChange>"
               "</SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>" % note, m)
    assert f.code == 9003 and m.store.attrs == {}


def test_a_value_holding_elements_is_refused_rather_than_cut_short():
    m = make_model()
    f = _fault("<cwmp:SetParameterValues><ParameterList><ParameterValueStruct>"
               "<Name>Device.ManagementServer.URL</Name><Value>http://a<b/>cs</Value>"
               "</ParameterValueStruct></ParameterList><ParameterKey>k</ParameterKey>"
               "</cwmp:SetParameterValues>", m)
    assert f.code == 9003 and m.value("Device.ManagementServer.URL") != "http://a"
