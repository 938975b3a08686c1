"""Value-change detection (notify.Watcher) against a hand-written fake model; no I/O."""

from tr069client.notify import Watcher


class FakeModel:
    """The part of model.Model the watcher uses: attributes, values, the ACS's changes."""

    def __init__(self, values, passive=(), active=()):
        self.current = dict(values)
        self.passive, self.active = list(passive), list(active)
        self.acs_changed = set()
        self.session_open = False
        self.polled = []
        self.os_values = set()   # paths the OS changes by itself (model.volatile)

    def volatile(self, path):
        return path in self.os_values

    def end_session(self):
        self.session_open = False

    def notified(self, kind):
        return list(self.passive if kind == 1 else self.active)

    def poll(self, paths):
        self.polled.append(sorted(paths))
        return {p: self.current[p] for p in paths if p in self.current}

    def values(self):
        return dict(self.current)


def make(**kw):
    model = FakeModel({"A": "1", "P": "x", "Q": "y"}, passive=["P", "Q"], active=["A"], **kw)
    state = {}
    w = Watcher(model, state)
    assert w.poll() == ([], [])   # newly watched: the first read is the baseline
    return model, state, w


def test_changes_are_reported_once_by_kind():
    model, state, w = make()
    model.current.update(A="2", P="z")
    assert w.poll() == (["P"], ["A"])
    assert w.poll() == ([], [])
    assert w.has_active()
    assert w.inform_params() == ["A", "P"]   # active first
    model.current["A"] = "3"
    assert w.poll() == ([], ["A"])
    assert w.inform_params() == ["A", "P"]   # still one entry each


def test_only_watched_parameters_are_read():
    model, state, w = make()
    assert model.polled == [["A", "P", "Q"]]


def test_delivery_clears_what_the_inform_carried():
    model, state, w = make()
    model.current.update(A="2", P="z")
    w.poll()
    model.current["Q"] = "w"
    w.poll()
    assert w.begin_inform() == ["A", "P", "Q"]
    w.delivered(["A", "P"])
    assert w.inform_params() == ["Q"] and not w.has_active()


def test_the_acs_own_changes_are_not_notified():
    model, state, w = make()
    model.session_open, model.acs_changed = True, {"A", "P"}
    model.current["A"] = "set-by-acs"
    assert w.poll() == ([], [])          # seen during the session
    model.current["P"] = "set-by-acs"
    w.accept_acs_changes()               # seen first at its end
    assert not model.session_open and model.acs_changed == {"A", "P"}
    assert w.poll() == ([], [])
    assert state["notify_baseline"]["P"] == "set-by-acs"


def test_a_local_change_after_the_session_that_set_it_is_notified():
    # Issue 9.2: the exemption covers the ACS's own change in its session, nothing later.
    model, state, w = make()
    model.session_open, model.acs_changed = True, {"A"}
    model.current["A"] = "set-by-acs"
    w.accept_acs_changes()
    assert w.poll() == ([], [])
    model.current["A"] = "set-locally"   # `tr069client set`, a bound command's output
    assert w.poll() == ([], ["A"])
    assert w.inform_params() == ["A"] and w.has_active()


def test_unwatched_and_vanished_parameters():
    model, state, w = make()
    model.passive.remove("Q")
    assert w.poll() == ([], [])
    assert "Q" not in state["notify_baseline"]
    del model.current["P"]            # e.g. its table instance was deleted
    assert w.poll() == ([], [])
    model.current["P"] = "back"
    assert w.poll() == (["P"], [])


def test_state_is_kept_in_the_store_dict():
    model, state, w = make()
    model.current["A"] = "2"
    w.poll()
    again = Watcher(model, state)     # after a restart: same dict from the state file
    assert again.inform_params() == ["A"] and again.has_active()
    assert again.poll() == ([], [])


def test_a_change_after_the_inform_was_built_stays_pending():
    model, state, w = make()
    model.current["A"] = "2"
    w.poll()
    sent = w.begin_inform()
    model.current["A"] = "3"     # during the session
    w.poll()
    w.delivered(sent)
    assert w.inform_params() == ["A"] and w.has_active()
    sent = w.begin_inform()
    w.delivered(sent)
    assert w.inform_params() == []


def test_a_timer_poll_reads_only_what_the_os_changes_and_says_whether_any_is_watched():
    m, _, w = make()
    assert not w.any_volatile
    m.os_values.add("Q")
    m.polled.clear()
    w.poll(volatile_only=True)
    assert m.polled == [["Q"]] and w.any_volatile
