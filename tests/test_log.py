"""tr069client/log.py: where the lines go."""

from tr069client import log


def test_syslog_without_dev_log_falls_back_to_stderr_and_says_so(logged, monkeypatch, tmp_path):
    monkeypatch.setattr(log, "DEV_LOG", str(tmp_path / "log"))
    log.configure("info", use_syslog=True)
    log.info("session done")
    first, second = logged.getvalue().splitlines()
    assert first.endswith("warning syslog is configured but %s is missing (no syslog daemon running?); "
                          "logging to stderr instead" % log.DEV_LOG)
    assert second.endswith("info session done")
    (tmp_path / "log").write_text("")                  # a syslog daemon is there now
    log.configure("info", use_syslog=True)
    assert log._syslog is not None
