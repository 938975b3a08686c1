"""The firmware upgrade descriptor: an XML list of image links that are downloaded and handed
to the firmware command together; parsing and validation only, no I/O.

    <upgrade version="1" type="links">
      <config/>                                 optional, ignored
      <software-version>2.1.0</software-version>  optional: what the device runs once upgraded
      <links><link><url>URL</url></link> ...</links>
    </upgrade>

The software version, when given, decides after the reboot whether the upgrade worked
(transfers.py compares it with Device.DeviceInfo.SoftwareVersion).
"""

from collections import namedtuple
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .faults import CwmpFault, FILE_CORRUPTED

# A descriptor is a few lines; anything bigger is an image, not a list of links.
MAX_SIZE = 64 * 1024
MAX_LINKS = 16
_MAX_URL = 1024
_MAX_VERSION = 64   # TR-181 DeviceInfo.SoftwareVersion is a string(64)

# urls: the links in order; software_version: the version the upgrade brings, or None.
Upgrade = namedtuple("Upgrade", "urls software_version")


def looks_like(head):
    """True if the first bytes of a downloaded file say it is XML, hence a descriptor."""
    head = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return head.startswith(b"<?xml") or head.startswith(b"<upgrade")


def _bad(why):
    return CwmpFault(FILE_CORRUPTED, "upgrade descriptor is invalid: " + why)


def _only(elem, allowed, where):
    for c in elem:
        if not isinstance(c.tag, str):
            continue  # comments and processing instructions
        if c.tag not in allowed:
            raise _bad("unexpected element <%s> in <%s>" % (c.tag, where))
    if (elem.text or "").strip():
        raise _bad("unexpected text in <%s>" % where)


def parse(data):
    """The link URLs of a descriptor, in order; CwmpFault 9018 saying what is wrong otherwise."""
    return read(data).urls


def read(data):
    """The Upgrade a descriptor describes; CwmpFault 9018 saying what is wrong otherwise."""
    if len(data) > MAX_SIZE:
        raise _bad("larger than %d KiB" % (MAX_SIZE // 1024))
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise _bad("forbidden XML (%s)" % type(e).__name__)
    except ParseError as e:
        raise _bad("not well-formed XML (%s)" % e)
    except (ValueError, UnicodeError) as e:
        raise _bad("undecodable XML (%s)" % e)
    if root.tag != "upgrade":
        raise _bad("root element is <%s>, not <upgrade>" % root.tag)
    if root.get("version") != "1":
        raise _bad("version %r is not supported (only \"1\")" % root.get("version"))
    if root.get("type") != "links":
        raise _bad("type %r is not supported (only \"links\")" % root.get("type"))
    _only(root, ("config", "software-version", "links"), "upgrade")
    found = root.findall("links")
    versions = root.findall("software-version")
    if len(found) != 1 or len(root.findall("config")) > 1 or len(versions) > 1:
        raise _bad("<upgrade> must hold one <links> (and at most one <config> and one "
                   "<software-version>)")
    version = None
    if versions:
        version = (versions[0].text or "").strip()
        if len(versions[0]) or not version or len(version) > _MAX_VERSION:
            raise _bad("<software-version> must be text of 1 to %d characters" % _MAX_VERSION)
    links = found[0]
    _only(links, ("link",), "links")
    items = links.findall("link")
    if not items:
        raise _bad("<links> holds no <link>")
    if len(items) > MAX_LINKS:
        raise _bad("%d links, more than the %d allowed" % (len(items), MAX_LINKS))
    urls = []
    for n, link in enumerate(items, 1):
        _only(link, ("url",), "link")
        u = link.findall("url")
        if len(u) != 1:
            raise _bad("link %d must hold exactly one <url>" % n)
        url = (u[0].text or "").strip()
        if len(u[0]):
            raise _bad("<url> of link %d holds elements" % n)
        if not url:
            raise _bad("link %d has an empty <url>" % n)
        if len(url) > _MAX_URL:
            raise _bad("the URL of link %d is longer than %d characters" % (n, _MAX_URL))
        try:
            parts = urlsplit(url)
            parts.port
        except ValueError:
            raise _bad("link %d is not a valid URL" % n)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _bad("link %d is not an http or https URL" % n)
        urls.append(url)
    return Upgrade(urls, version)
