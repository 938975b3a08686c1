"""The firmware upgrade descriptor: links in order, and 9018 with a reason for anything else."""

import pytest

from tr069client import descriptor
from tr069client.faults import CwmpFault


def doc(links, head='<upgrade version="1" type="links">', config="<config/>"):
    body = "".join("<link><url>%s</url></link>" % u for u in links)
    return ('<?xml version="1.0"?>\n%s%s<links>%s</links></upgrade>' % (head, config, body)).encode()


def refused(data):
    with pytest.raises(CwmpFault) as e:
        descriptor.parse(data)
    assert e.value.code == 9018
    assert e.value.message.startswith("upgrade descriptor is invalid: ")
    return e.value.message


def test_links_in_order():
    urls = ["http://fs/a.bin", "https://fs:8443/b.bin?x=1&amp;y=2", "http://other/c"]
    assert descriptor.parse(doc(urls)) == ["http://fs/a.bin", "https://fs:8443/b.bin?x=1&y=2", "http://other/c"]


def test_config_is_optional_and_whitespace_is_fine():
    data = b'<upgrade version="1" type="links">\n  <links>\n    <link> <url> http://fs/a </url> </link>\n  </links>\n</upgrade>\n'
    assert descriptor.parse(data) == ["http://fs/a"]


def test_the_software_version_the_upgrade_brings():
    assert descriptor.read(doc(["http://fs/a"])) == (["http://fs/a"], None)
    data = doc(["http://fs/a"], config="<config/><software-version> 2.1.0 </software-version>")
    assert descriptor.read(data) == (["http://fs/a"], "2.1.0")


def test_looks_like():
    assert descriptor.looks_like(b'<?xml version="1.0"?><upgrade')
    assert descriptor.looks_like(b"\xef\xbb\xbf  \n<upgrade version=")
    assert not descriptor.looks_like(b"\x27\x05\x19\x56 uImage")
    assert not descriptor.looks_like(b"")


@pytest.mark.parametrize("data, why", [
    (b"<upgrade version='1' type='links'><links>", "not well-formed"),
    (b"\xff\xfe<u", "not well-formed"),
    (b'<firmware version="1" type="links"/>', "root element is <firmware>"),
    (doc(["http://a/"], head='<upgrade version="2" type="links">'), "version '2'"),
    (doc(["http://a/"], head='<upgrade version="1">'), "type None"),
    (doc([]), "holds no <link>"),
    (doc(["ftp://fs/a.bin"]), "link 1 is not an http or https URL"),
    (doc(["http://fs/a", "file:///etc/shadow"]), "link 2 is not an http or https URL"),
    (doc(["http://fs:99999/a"]), "link 1 is not a valid URL"),
    (doc(["http:///nohost"]), "link 1 is not an http or https URL"),
    (doc([""]), "link 1 has an empty <url>"),
    (doc(["http://fs/a"] * 17), "17 links, more than the 16 allowed"),
    (doc(["http://fs/a"], config="<script/>"), "unexpected element <script> in <upgrade>"),
    (b'<upgrade version="1" type="links"><links><link><url>http://a/</url><url>http://b/</url>'
     b"</link></links></upgrade>", "link 1 must hold exactly one <url>"),
    (b'<upgrade version="1" type="links"><links>x<link><url>http://a/</url></link></links></upgrade>',
     "unexpected text in <links>"),
    (b'<upgrade version="1" type="links"><links/><links/></upgrade>', "must hold one <links>"),
    (doc(["http://a/"], config="<software-version>1</software-version><software-version>2</software-version>"),
     "at most one <config> and one <software-version>"),
    (doc(["http://a/"], config="<software-version> </software-version>"), "<software-version> must be text"),
    (doc(["http://a/"], config="<software-version>%s</software-version>" % ("9" * 65)),
     "<software-version> must be text of 1 to 64 characters"),
    (b'<upgrade xmlns="urn:x" version="1" type="links"/>', "root element is <{urn:x}upgrade>"),
])
def test_invalid_descriptors_say_why(data, why):
    assert why in refused(data)


def test_entities_and_dtds_are_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<upgrade version="1" type="links"><links><link><url>http://x/&b;</url></link></links></upgrade>')
    assert "forbidden XML" in refused(bomb)


def test_size_limit():
    big = doc(["http://fs/" + "a" * 1000] * 16) + b" " * descriptor.MAX_SIZE
    assert "larger than 64 KiB" in refused(big)
