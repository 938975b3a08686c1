"""The cookies of one HTTP session (RFC 6265 subset); no I/O."""

import email.utils
import time


class Cookies:
    """One session's cookies (RFC 6265 subset: Path, Max-Age, Expires, Secure; no Domain)."""

    def __init__(self):
        self.jar = {}  # (host, path, name) -> (value, secure)

    def store(self, host, req_path, lines):
        for line in lines:
            parts = line.split(";")
            name, eq, value = parts[0].partition("=")
            if not eq or not name.strip() or "\r" in line or "\n" in line:
                continue  # a folded header value could not be sent back as one line
            attrs = dict((k.strip().lower(), v.strip())
                         for k, _, v in (a.partition("=") for a in parts[1:]))
            path = attrs.get("path", "")
            if not path.startswith("/"):  # RFC 6265 5.1.4 default-path
                path = req_path[:req_path.rfind("/")] if req_path.count("/") > 1 else "/"
            key = (host, path, name.strip())
            expires = email.utils.parsedate_tz(attrs.get("expires", ""))
            max_age = attrs.get("max-age", "")
            # Max-Age zero or less deletes (RFC 6265 5.2.2); other text is not a number for us.
            if (max_age.startswith("-") or (max_age and not max_age.strip("0"))) or (
                    not max_age and expires and email.utils.mktime_tz(expires) <= time.time()):
                self.jar.pop(key, None)
            else:
                self.jar[key] = (value.strip(), "secure" in attrs)

    def header(self, host, path, https):
        found = sorted((-len(cpath), name, value)
                       for (h, cpath, name), (value, secure) in self.jar.items()
                       if h == host and (https or not secure) and (path == cpath or (
                           path.startswith(cpath) and
                           (cpath.endswith("/") or path[len(cpath)] == "/"))))
        return "; ".join("%s=%s" % (n, v) for _, n, v in found) or None
