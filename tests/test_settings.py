"""Settings and the operator's KEY=VALUE commands on the model, without a daemon."""

import pytest

from tr069client import planner as planner_mod
from tr069client import config, log, settings
from tr069client import events as ev
from tr069client.model import Model
from tr069client.store import Store

MS = "Device.ManagementServer."
IDENT = {"manufacturer": "Acme", "oui": "00D0C9", "product-class": "Router", "serial-number": "SN0001"}


def make():
    store = Store()
    model = Model(store, defaults=settings.PRODUCT_DEFAULTS)
    settings.put(model, "acs-url", "http://acs.example/acs")
    a = planner_mod.Planner(store, model, IDENT, lambda: 0.5)
    a.start("boot-1", 1000.0, 1764064800.0)
    return store, model, a


def test_a_refused_set_leaves_the_planner_state_attached_to_the_store():
    store, model, a = make()
    a.watcher.pending["2"].append(MS + "URL")
    with pytest.raises(settings.SettingError):
        settings.set_values(model, [["cr-port", "7000"], [MS + "PeriodicInformInterval", "abc"]])
    assert settings.get(model, "cr-port") == 7547
    # What the planner queues after the rollback is what the store saves.
    a.events.add(ev.PERIODIC)
    assert [ev.PERIODIC, ""] in store.state["events"]
    a.watcher.delivered([MS + "URL"])
    assert store.state["notify_pending"]["2"] == []


@pytest.mark.parametrize("value, expected", [(" 12 ", 12), ("-3", -3), (7, 7)])
def test_whole_numbers_in_settings(value, expected):
    assert config.check("cr-port", value) == expected


@pytest.mark.parametrize("value", ["1_000", "0x10", "1.5", 1.5, True, "\u0661\u0662", "", "12 34"])
def test_anything_else_is_not_taken_for_a_number(value):
    with pytest.raises(config.ConfigError) as e:
        config.check("cr-port", value)
    assert str(e.value) == "cr-port: expected a whole number, not %r" % (value,)


@pytest.mark.parametrize("url, shown", [
    ("http://cpe:p@ss@acs.example/acs", "http://cpe:********@acs.example/acs"),
    ("https://cpe:secret@acs.example?u=a:b@c", "https://cpe:********@acs.example?u=a:b@c"),
    ("http://acs.example/acs?next=a:b@c", "http://acs.example/acs?next=a:b@c"),
    ("http://cpe@acs.example/", "http://cpe@acs.example/"),
    ("", ""),
])
def test_shown_url_masks_only_a_password(url, shown):
    assert log.shown_url(url) == shown


def test_a_stored_value_is_judged_by_what_it_is_even_when_judged_before():
    """settings.get() keeps what it judged of a stored value (a loop reads settings all the
    time); true is no 1 for it, nor does a changed value keep the old verdict."""
    m = Model(Store())
    m.store.state["settings"] = {"cr-port": 1}
    assert settings.get(m, "cr-port") == 1
    m.store.state["settings"] = {"cr-port": True}
    assert settings.get(m, "cr-port") == 7547 and "not True" in settings.problems(m, ["cr-port"])["cr-port"]
    m.store.values["Device.ManagementServer.URL"] = "http://acs.example/"
    assert settings.get(m, "acs-url") == "http://acs.example/"
    m.store.values["Device.ManagementServer.URL"] = "ftp://acs.example/"
    m.refresh()
    assert "expected an http" in settings.problems(m, ["acs-url"])["acs-url"]


def test_settings_and_the_planner_s_start_read_no_provider():
    # The OS is read once before the first Inform, by the Inform itself: settings, timers and
    # notifications of stored values need none of it (a view costs 35 M instructions on a router).
    from tr069client.provider import Provider
    reads = []
    store = Store()
    model = Model(store, providers=[Provider("Device.DeviceInfo.", lambda m: reads.append(1) or {
        "Device.DeviceInfo.SoftwareVersion": "1.0"}), Provider("Device.Time.", lambda m: reads.append(2) or {})],
        defaults=settings.PRODUCT_DEFAULTS)
    assert settings.apply_initial(model, {"acs-url": "http://acs.example/acs", "username": "u",
                                          "periodic-inform-interval": 60, "cr-port": 7000}) == [
        "acs-url", "username", "periodic-inform-interval", "cr-port"]
    a = planner_mod.Planner(store, model, IDENT, lambda: 0.5)
    a.start("boot-1", 1000.0, 1764064800.0)
    assert [settings.get(model, n) for n in ("acs-url", "periodic-inform-interval", "enabled")] == [
        "http://acs.example/acs", 60, True]
    assert model.value(MS + "PeriodicInformInterval") == "60" and reads == []
    assert model.value("Device.DeviceInfo.SoftwareVersion") == "1.0" and reads == [1, 2]
