"""The commands and files bindings read and run: outputs cached per session (model.cache),
failures as sentences without the secrets being set, apply commands kept for the end of
the session, and each problem logged once, not at every read."""

from . import log
from .provider import ProviderError


class Runner:
    """Runs commands (outputs cached per session in model.cache) and collects the apply
    commands that wait for the end of the session."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.pending = []
        self.problems = {}   # what is wrong now, by binding path: logged when it changes

    def report(self, subject, problem):
        """Log `problem` of `subject` (None: all is well) once, not at every read."""
        if problem is None:
            if self.problems.pop(subject, None) is not None:
                log.info("binding %s works again", subject)
        elif self.problems.get(subject) != problem:
            self.problems[subject] = problem
            log.warning("binding %s: %s", subject, problem)

    def output(self, model, argv):
        key = ("bindings.command", tuple(argv))
        got = model.cache.get(key)
        if got is None:
            try:
                got = self.run(argv)
            except ProviderError as e:
                got = e   # a failing command fails once per session, not once per parameter
            model.cache[key] = got
        if isinstance(got, ProviderError):
            raise got
        return got

    def file(self, model, name):
        from .linux import files
        key = ("bindings.file", name)
        if key not in model.cache:
            try:
                with open(files.path(model.root, name), "rb") as f:
                    model.cache[key] = f.read(1 << 20).decode("utf-8", "replace")
            except OSError as e:
                model.cache[key] = ProviderError("cannot read %s: %s" % (name, e.strerror or e))
        got = model.cache[key]
        if isinstance(got, ProviderError):
            raise got
        return got

    def run(self, argv, secrets=(), value=None):
        """The command's standard output; ProviderError when it fails or times out. The
        `secrets` (a password being set) never appear in the error; `value`, if given, is
        in the command's environment as TR069_VALUE."""
        import os
        import subprocess
        shown = _redact(" ".join(argv), secrets)[:120]
        env = None if value is None else dict(os.environ, TR069_VALUE=value)
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=self.timeout, env=env)
        except subprocess.TimeoutExpired:
            raise ProviderError("`%s` did not finish within %s s" % (shown, self.timeout))
        except OSError as e:
            raise ProviderError("cannot run `%s`: %s" % (shown, e.strerror or e))
        if p.returncode != 0:
            err = p.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ProviderError("`%s` exited with status %d%s" % (
                shown, p.returncode, ": " + _redact(err[-1], secrets)[:200] if err else ""))
        return p.stdout.decode("utf-8", "replace")

    def schedule(self, commands):
        """Queue apply commands (each once); True when there are any."""
        for argv in commands:
            if argv not in self.pending:
                self.pending.append(argv)
        return bool(commands)

    def apply(self, model):
        """Run the queued apply commands once each; a failure is logged, the rest still run."""
        todo, self.pending = self.pending, []
        for argv in todo:
            try:
                self.run(argv)
                log.info("applied: %s", " ".join(argv))
            except ProviderError as e:
                log.error("apply command failed: %s", e)


def _redact(text, secrets):
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text
