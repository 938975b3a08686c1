"""The passwords the tests use, in one place (issue 11.5). At the end of the run conftest.py looks
for each of them in every log line the run wrote: tr069client.log in this process, every log
file of a daemon started by _daemon.py, and the stderr of every command it ran; one found
fails the run. Each is distinctive, so that finding it means a leak, not a coincidence.

    record()                    # from now on, keep what tr069client.log writes in LINES
    log_file(path); output(text)  # a daemon's log file, a command's stderr: read at the end
    leaks(all_lines())          # [(password, line)] of the lines that hold one
"""


ACS = "acs-pass"                  # the lab ACS's default password (tools/lab_acs.py)
FILES = "file-pass"               # the lab ACS's file server default password
ACS_STRONG = "Acs-S3cret"         # an ACS password set by a test
CR = "Cr-Pass-0815"               # connection-request password
CR_OTHER = "cr-pass"              # another one
FIRMWARE = "fw-s3cret"            # a file server's password in a Download
UPLOAD = "up-S3cret-9"            # a file server's password in an Upload
URL = "url-Pa55-4z"               # a password in a URL's user:password@
TRANSFER = "dl-Pa55-7k"           # a Download password in engine tests
FROM_FILE = "file-Pa55-x2"        # --password-file
FROM_ENV = "env-Pa55-m8"          # TR069CLIENT_PASSWORD
CR_FROM_ENV = "env-cr-Pa55-q1"    # TR069CLIENT_CR_PASSWORD
BINDING = "s3cr3t-pw"             # a secret handed to a binding's command
BINDING_SPACED = "s3cr3t pw"      # one with a space, for the shell
FILE = "fs-Pa55-3w"               # a file server's password
WRONG = "wr0ng-Pa55"              # a wrong password is a password all the same
# Also in files that other work changes (kept as they are): transport, listener, auth and deploy tests.
OTHERS = ("hunter2", "s3cr3t-wrong", "s3cret", "new-one", "Circle of Life", "p@ss", "p w'\\d")

ALL = (ACS, FILES, ACS_STRONG, CR, CR_OTHER, FIRMWARE, UPLOAD, URL, TRANSFER, FROM_FILE, FROM_ENV,
       CR_FROM_ENV, BINDING, BINDING_SPACED, FILE, WRONG) + OTHERS


def leaks(lines):
    """[(password, line)] for every line that holds one of the passwords (as a word of its own:
    "acs-pass" is not found in "acs-password")."""
    import re
    words = [(p, re.compile(r"(?<![A-Za-z0-9])%s(?![A-Za-z0-9])" % re.escape(p))) for p in ALL]
    return [(p, line) for line in lines for p, word in words if p in line and word.search(line)]


LINES = []
_files = []
_outputs = []


def record():
    """Keep every line tr069client.log emits in this process, wherever it goes, in LINES."""
    from tr069client import log
    emit = log._emit
    if getattr(emit, "recording", False):
        return

    def recording(level, fmt, args):
        if level >= log._level:
            try:
                LINES.append(fmt % args if args else fmt)
            except (TypeError, ValueError):
                pass   # emit() itself says what is wrong with the format
        emit(level, fmt, args)
    recording.recording = True
    log._emit = recording


def log_file(path):
    _files.append(path)


def output(text):
    _outputs.append(text or "")


def all_lines():
    """The lines of this process's log, of every registered log file, and of every output."""
    lines = list(LINES)
    for path in dict.fromkeys(_files):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines += f.read().splitlines()
        except OSError:
            pass
    for text in _outputs:
        lines += text.splitlines()
    return lines
