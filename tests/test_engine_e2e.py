"""What the ACS changes, end to end (the real daemon against the lab ACS on loopback): a change
survives a SIGKILL once it is answered, and a later local change of it is notified."""

import threading

import pytest

from _daemon import MS, DaemonProc, events_of, instrument, wait_informs
from lab_acs import set_parameter_attributes, set_parameter_values

# Process-level: the fast subset (pytest -m "not e2e") leaves these out.
pytestmark = pytest.mark.e2e

PI = MS + "PeriodicInformInterval"


@pytest.fixture
def acs(make_lab_acs):
    return instrument(make_lab_acs())


@pytest.fixture
def daemon(tmp_path):
    made = []

    def make(acs, **options):
        folder = tmp_path / ("d%d" % len(made))
        folder.mkdir()
        d = DaemonProc(folder, acs, **options)
        made.append(d)
        return d

    yield make
    for d in made:
        if d.running():
            assert d.stop() == 0
        assert "Traceback" not in d.log()


def test_an_answered_set_survives_sigkill_before_the_session_ends(acs, daemon):
    # Issue 9.9: Status 0 says the change is applied; a power cut right after it loses nothing.
    d = daemon(acs)
    acs.queue(set_parameter_values([(PI, "1234", "xsd:unsignedInt")], "pk-9"),
              set_parameter_attributes([(MS + "UpgradesManaged", 1, None)]))

    answered, release = threading.Event(), threading.Event()

    def on_response(name, parsed):
        if name == "SetParameterAttributesResponse":
            answered.set()
            release.wait(20)   # the ACS holds its next message: the session cannot end

    acs.on_response = on_response
    d.start()
    assert answered.wait(20), d.log()
    d.kill()
    release.set()
    assert [m for m, _ in acs.responses] == ["SetParameterValuesResponse", "SetParameterAttributesResponse"]
    saved = d.state()
    assert saved["values"][PI] == "1234" and saved["values"][MS + "ParameterKey"] == "pk-9"
    assert saved["attributes"][MS + "UpgradesManaged"] == [1, []]
    acs.on_response = None
    d.start()
    inform = wait_informs(acs, 2)[1]
    # The first session never ended (with --cr-port 0 a new ConnectionRequestURL is notified too).
    assert [e for e in events_of(inform) if e != "4 VALUE CHANGE"] == ["0 BOOTSTRAP", "1 BOOT"]
    acs.wait_sessions(2)
    assert acs.informs[1]["parameters"][MS + "ParameterKey"] == "pk-9"
    assert d.get(PI) == "1234"


def test_a_local_change_of_what_the_acs_set_is_notified(acs, daemon):
    # Issue 9.2: the ACS sets X under active notification; a later `tr069client set X` is a
    # VALUE CHANGE carrying X.
    x = MS + "ConnectionRequestUsername"
    d = daemon(acs)
    acs.queue(set_parameter_attributes([(x, 2, None)]),
              set_parameter_values([(x, "acs.example", "xsd:string")]))
    d.start()
    acs.wait_sessions(1)
    d.set(x + "=local.example")
    got = wait_informs(acs, 2)
    acs.wait_sessions(2)
    assert events_of(got[1]) == ["4 VALUE CHANGE"]
    assert acs.informs[1]["parameters"][x] == "local.example"
