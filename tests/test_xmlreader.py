"""xmlreader: XML refused the moment it passes a budget, whatever the pieces it arrives in.

The limits are small here so that every hostile shape is quick to build; tools/
hostile_input.py measures the real daemon with the real budgets.
"""

import xml.etree.ElementTree as ET

import pytest

from defusedxml import DTDForbidden

from tr069client import xmlreader
from tr069client.xmlreader import Limits, OverBudget

SMALL = Limits(size=8192, elements=40, depth=6, attributes=4, namespaces=3, tag=200, text=300, names=12,
               tree=1 << 20)


def feed(data, piece=64, limits=SMALL):
    """A Reader fed `data` in pieces; (reader, bytes fed when it raised or None, exception)."""
    r = xmlreader.Reader(limits)
    for i in range(0, len(data), piece):
        try:
            r.feed(data[i:i + piece])
        except Exception as e:  # noqa: B902 - what is raised is the subject of the tests
            return r, i + piece, e
    return r, None, None


def refused(data, piece=64, limits=SMALL):
    r, at, e = feed(data, piece, limits)
    assert isinstance(e, OverBudget), e
    return str(e), at


def whole(data, piece=64, limits=SMALL):
    r, at, e = feed(data, piece, limits)
    assert e is None, e
    return r.close()


def test_attributes_on_one_element_are_refused_before_the_tag_is_whole():
    msg, at = refused(b"<a" + b"".join(b' x%d="1"' % i for i in range(99000)) + b"/>")
    assert msg == "with more than 4 attributes on one element" and at <= 64


def test_namespace_declarations_on_one_element_are_refused():
    decls = [b' xmlns:n%d="u"' % i for i in range(4)]
    assert refused(b"<a" + b"".join(decls) + b"/>")[0] == "with more than 3 namespace declarations on one element"
    assert whole(b"<a" + b"".join(decls[:3]) + b"/>").tag == "a"


def test_a_long_attribute_is_refused_once_it_passes_the_tag_budget():
    msg, at = refused(b'<a x="' + b"A" * 4000000 + b'"/>')
    assert msg == "with an attribute of over 200 bytes" and at <= 200 + 64


def test_a_long_tag_comment_or_instruction_is_refused():
    assert refused(b"<a" + b" " * 500 + b">")[0] == "with a tag of over 200 bytes"
    assert refused(b"<a/><!--" + b"-" * 500)[0] == "with a comment or processing instruction of over 200 bytes"
    assert refused(b"<?xml " + b" " * 500)[0].startswith("with a comment or processing instruction")


@pytest.mark.parametrize("piece", [1, 7, 64, 4096])
def test_deep_nesting_is_refused_at_the_first_element_too_deep(piece):
    for body in (b"<a>" * 49000 + b"</a>" * 49000, b"<a>" * 100000):
        r, at, e = feed(body, piece)
        assert str(e) == "nested deeper than 6 elements"
        depth, elem = 0, r.root
        while len(elem):
            depth, elem = depth + 1, elem[0]
        assert depth == 5   # the tree stops where the budget did


def test_too_many_elements_are_refused_as_they_arrive():
    msg, at = refused(b"<r>" + b"<a/>" * 100000)
    assert msg == "with more than 40 elements" and at <= 200
    for other in (b"<!---->", b"<?p?>", b"<![CDATA[]]>"):
        msg, at = refused(b"<r>" + other * 100000)
        assert msg == "with more than 40 comments, instructions and CDATA sections" and at <= 600


def test_the_memory_the_tree_takes_is_counted_as_it_grows():
    limits = SMALL._replace(size=1 << 20, elements=100000, tree=96 << 10)
    # Attributes of 2 characters: an element of 40 bytes of XML takes about 600 of memory.
    wide = b"<a" + b"".join(b' b%d="v%d"' % (i, i) for i in range(4)) + b"/>"
    msg, at = refused(b"<r>" + wide * 10000, 64, limits)
    assert msg == "needing over 96 KiB of memory" and at < (96 << 10) / 10
    # Text beyond ASCII may take 4 bytes a character.
    msg, at = refused(b"<r>" + b"<a>%s</a>" % ("\u20ac" * 100).encode() * 10000, 64, limits)
    assert msg == "needing over 96 KiB of memory" and at < 96 << 10
    # What is shared costs nothing: single characters, and indentation.
    assert whole(b"<r>" + b"<a>x</a>\n  " * 1000 + b"</r>", 64, limits).tag == "r"


def test_long_text_is_refused_as_it_arrives_in_text_and_in_cdata():
    for body in (b"<a>" + b"x" * 4000000, b"<a><![CDATA[" + b"x" * 4000000):
        msg, at = refused(body)
        assert msg == "with a text of over 300 characters" and at <= 400
    assert whole(b"<a>" + b"x" * 300 + b"<b/>" + b"y" * 300 + b"</a>")[0].tail == "y" * 300


def test_the_whole_size_is_refused_as_it_arrives_even_in_parts_not_parsed():
    r = xmlreader.Reader(SMALL)
    r.feed(b"<a>")
    with pytest.raises(OverBudget) as e:
        r.feed(b"<!--")
        r.feed(b" " * 9000)
    assert str(e.value) == "of over 8 KiB"


def test_distinct_names_and_long_names_are_refused():
    msg, _ = refused(b"<r>" + b"".join(b"<n%d/>" % i for i in range(20)) + b"</r>")
    assert msg == "with more than 12 distinct names"
    # A long namespace, declared once, would make each short tag a long name.
    long_ns = b'<r xmlns:p="' + b"u" * 180 + b'">' + b"<p:a/>" * 3 + b"</r>"
    limits = SMALL._replace(tag=400)
    assert whole(long_ns, limits=limits)[0].tag == "{%s}a" % ("u" * 180)
    huge_ns = b'<r xmlns:p="' + b"u" * 600 + b'"><p:a/></r>'
    assert refused(huge_ns, limits=SMALL._replace(tag=1000))[0] == "with a name of over 512 characters"


def test_a_dtd_is_forbidden_before_expat_reads_it():
    r, _, e = feed(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "' + b"a" * 10000 + b'">]><x>&a;</x>')
    assert isinstance(e, DTDForbidden)


def test_utf16_is_undecodable_not_misread():
    r, _, e = feed('<a>x</a>'.encode("utf-16"))
    assert isinstance(e, ValueError) and "UTF-16" in str(e)


MESSAGE = (b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- from the ACS -->\n'
           b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:c="urn:c">\n'
           b'  <e:Body>\n    <c:Download a=\'1&amp;2\' b="&quot;>">\n'
           b"      <URL>http://fs/f?a=1&b=2&amp;c=&#51;&lt;&#x34;</URL>\n"
           b"      <Cdata><![CDATA[<not a tag> & ]] ]]></Cdata>\n"
           b"      <?pi data?><Empty/>\n    </c:Download>\n  </e:Body>\n</e:Envelope>\n")


@pytest.mark.parametrize("piece", [1, 2, 3, 5, 7, 13, 64, 1000])
def test_pieces_of_any_size_give_the_same_tree(piece):
    root = whole(MESSAGE, piece, SMALL._replace(depth=10))
    dl = root[0][0]
    assert dl.attrib == {"a": "1&2", "b": '">'}
    # GenieACS's bare "&" is repaired; real references are kept, whatever the cut.
    assert dl.find("URL").text == "http://fs/f?a=1&b=2&c=3<4"
    assert dl.find("Cdata").text == "<not a tag> & ]] "
    assert ET.tostring(root) == ET.tostring(whole(MESSAGE, 100000, SMALL._replace(depth=10)))


def test_indentation_is_shared_not_copied():
    root = whole(b"<r>\n    <a>x</a>\n    <a>y</a>\n    <a>z</a>\n</r>")
    assert root[0].tail == "\n    " and root[0].tail is root[1].tail


def test_a_failed_reader_only_counts_what_follows():
    r = xmlreader.Reader(SMALL)
    with pytest.raises(OverBudget):
        r.feed(b"<a>" * 7)
    r.feed(b"<a>" * 100)   # not parsed: no second refusal for the same message
    with pytest.raises(OverBudget) as e:
        r.feed(b" " * 9000)
    assert str(e.value) == "of over 8 KiB"


def test_size_says_budgets_as_an_operator_reads_them():
    assert [xmlreader.size(n) for n in (2 << 20, 8 << 10, 300, 1536)] == \
        ["2 MiB", "8 KiB", "300 bytes", "1536 bytes"]


def test_a_reader_fed_nothing_leaves_no_garbage_cycle():
    """An empty answer (a 204 ends every session) is never parsed: without expat, no parser
    and handler cycle waits for the garbage collector (fleet mode has one per session)."""
    import gc

    def reader_garbage():
        # Only the reader's own objects: another test's thread may leave garbage meanwhile.
        gc.collect()
        found = [o for o in gc.garbage if type(o).__module__ in ("tr069client.xmlreader", "pyexpat")
                 or type(o).__name__ in ("xmlparser", "DefusedXMLParser")]
        gc.garbage.clear()
        return found
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        r = xmlreader.Reader(SMALL)
        del r
        assert reader_garbage() == []
        r = xmlreader.Reader(SMALL)
        r.feed(b"<a>x</a>")
        assert r.close().tag == "a"
        del r
        assert reader_garbage() == []    # close() frees expat's cycle too
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was:
            gc.enable()
