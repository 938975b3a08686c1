"""XML read as its bytes arrive and refused the moment it passes a budget; no I/O.

expat reports a start tag, a comment or a processing instruction only once it holds all of
it, so 99,000 attributes or a 4 MB attribute would be in memory before any handler could
count them: a scanner in front of expat bounds each such token as the bytes arrive. What
expat reports one piece at a time (elements, text) is counted by the tree builder behind it,
which stops expat at the first element or character over a budget. expat runs with
defusedxml's handlers (no DTD, no entity, no external reference) and builds C Elements.
"""

import re
from collections import namedtuple
from xml.etree.ElementTree import TreeBuilder

from defusedxml import DTDForbidden
from defusedxml.ElementTree import DefusedXMLParser

# size: bytes of the whole document; elements: how many; depth: elements open at once;
# attributes, namespaces (declarations): on one element; tag: bytes of one tag, comment or
# processing instruction (so of one attribute too); text: characters between two tags;
# names: distinct element and attribute names ({namespace}local, 512 characters at most);
# tree: bytes of memory the tree takes, as _Builder estimates them.
Limits = namedtuple("Limits", "size elements depth attributes namespaces tag text names tree")

_NAME_CHARS = 512
# What the parts of a tree cost (CPython 3.11, x86-64, measured): an Element and its place
# in its parent; an attribute dict, and each entry in it. A str: see _chars().
_ELEMENT, _ATTRIBUTES, _ATTRIBUTE = 80, 250, 25
# GenieACS puts Download URLs into the XML unescaped ("?a=1&b=2"): such a "&" becomes "&amp;".
_BARE_AMP = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")
_LONGEST_REF = 16       # bytes an entity or character reference cut by a piece may still need
_TAG_STOP = re.compile(rb"[>\"']")
_CDATA = b"<![CDATA["
_GT = 62


class OverBudget(Exception):
    """The XML passed a budget; the message completes "a message ...": "nested deeper than
    32 elements"."""


def size(n):
    """`n` bytes as an operator reads a budget: "2 MiB", "8 KiB", "100 bytes"."""
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return "%d %s" % (n >> shift, unit)
    return "%d bytes" % n


def _span(spans, start, end, kept):
    """Add [start, end) to `spans`, into the last one if nothing before `kept` parts them."""
    if spans and spans[-1][1] >= kept:
        spans[-1] = (spans[-1][0], end)
    else:
        spans.append((start, end))


class _Scanner:
    """Finds, in the bytes as they arrive, the part expat may take now: whole tags, comments
    and processing instructions within `limits.tag`, the text before them (a reference cut
    by the end of a piece waits for the rest); repairs bare "&" in text and attributes."""

    def __init__(self, limits):
        self.limits = limits
        self.carry = b""      # an unfinished token, kept for the next piece
        self.failure = None   # the OverBudget or DTDForbidden that stopped the scan
        self._cdata = False   # inside <![CDATA[ ... ]]>
        self._others = 0      # comments, processing instructions and CDATA sections
        # Text without "&" and tags without attributes, comments or instructions: most of a
        # message, passed over 256 at a time (the regex engine keeps a frame for each).
        self._plain = re.compile(rb"(?:[^<&]*<[^<>\"'!?]{0,%d}>){0,256}" % (limits.tag - 2))

    def scan(self, data):
        """What expat may take of the carried bytes and `data`, bare "&" repaired; up to the
        token that passed a budget, if one did (`failure` then says which)."""
        buf = self.carry + data if self.carry else data
        # bare: spans to repair, merged while no comment, instruction or CDATA (which keep
        # their "&") lies between, before `kept`.
        n, pos, bare, kept = len(buf), 0, [], 0
        try:
            while pos < n:
                if self._cdata:
                    end = buf.find(b"]]>", pos)
                    if end < 0:
                        pos = max(pos, n - 2)   # "]]" may end this piece
                        break
                    pos, self._cdata, kept = end + 3, False, end + 3
                    continue
                pos = self._plain.match(buf, pos).end()
                lt = buf.find(b"<", pos)
                if lt != pos:
                    stop = n if lt < 0 else lt
                    amp = buf.rfind(b"&", pos, stop)
                    if amp >= 0 and lt < 0 and stop - amp < _LONGEST_REF and buf.find(b";", amp, stop) < 0:
                        stop = amp   # "&am" may become "&amp;" with the next piece
                    if amp >= 0 and _BARE_AMP.search(buf, pos, stop):
                        _span(bare, pos, stop, kept)
                    pos = stop
                    if lt < 0:
                        break
                    continue
                end = self._markup(buf, pos, n)
                if end < 0:
                    break
                if buf[pos + 1] in b"!?":
                    kept = end
                elif _BARE_AMP.search(buf, pos, end):   # in attributes
                    _span(bare, pos, end, kept)
                pos = end
        except (OverBudget, DTDForbidden) as e:
            self.failure = e
        self.carry = buf[pos:]
        if not bare:
            return buf[:pos]
        out, last = [], 0
        for start, end in bare:
            out.append(buf[last:start])
            while start < end:   # some 8 KiB at a time (re.sub lists its pieces), cut at a tag
                cut = buf.find(b"<", start + 8192, end)
                cut = end if cut < 0 else cut
                out.append(_BARE_AMP.sub(b"&amp;", buf[start:cut]))
                start = cut
            last = end
        out.append(buf[last:pos])
        return b"".join(out)

    def _markup(self, buf, pos, n):
        """The end of the markup at `pos`, or -1 if it is not all there yet."""
        head = buf[pos:pos + len(_CDATA)]
        if head[:2] == b"<?" or head[:4] == b"<!--":
            close = b"?>" if head[:2] == b"<?" else b"-->"
            end = buf.find(close, pos + 2, pos + self.limits.tag + 1)
            if end >= 0:
                return self._other(end + len(close))
            return self._unfinished(n - pos, "a comment or processing instruction")
        if head[:2] == b"<!":
            if head == _CDATA:
                self._cdata = True
                return self._other(pos + len(_CDATA))
            if len(head) < len(_CDATA) and (_CDATA.startswith(head) or b"<!--".startswith(head)):
                return -1
            raise DTDForbidden(None, None, None)   # <!DOCTYPE, <!ENTITY: defusedxml's refusal
        return self._tag(buf, pos, n)

    def _tag(self, buf, pos, n):
        limits = self.limits
        stop = min(n, pos + limits.tag + 1)
        i, attributes = pos + 1, 0
        while True:
            m = _TAG_STOP.search(buf, i, stop)
            if m is None:
                return self._unfinished(n - pos, "a tag")
            j = m.start()
            if buf[j] == _GT:
                break
            i = buf.find(buf[j:j + 1], j + 1, stop) + 1   # past the closing quote
            if i == 0:
                return self._unfinished(n - pos, "an attribute")
            attributes += 1
            if attributes > limits.attributes:
                raise OverBudget("with more than %d attributes on one element" % limits.attributes)
        if attributes and buf.count(b"xmlns", pos, j) > limits.namespaces:
            raise OverBudget("with more than %d namespace declarations on one element" % limits.namespaces)
        return j + 1

    def _other(self, end):
        # Not elements, but each costs as much CPU: a message of nothing but "<!---->".
        self._others += 1
        if self._others > self.limits.elements:
            raise OverBudget("with more than %d comments, instructions and CDATA sections"
                             % self.limits.elements)
        return end

    def _unfinished(self, length, what):
        if length > self.limits.tag:
            raise OverBudget("with %s of over %s" % (what, size(self.limits.tag)))
        return -1


def _chars(text):
    """The memory of a str like `text`: 49 bytes, then 1 a character (4 for all but ASCII,
    the most a character may take); a character below 256 alone is shared, free."""
    n = len(text)
    return 0 if n == 1 and text <= "\xff" else 49 + (n if text.isascii() else 4 * n)


class _Builder:
    """The tree, as C Elements, built as expat reports it: counts elements, depth, text,
    distinct names and the memory it takes (an element with 64 attributes costs 5 KB for
    600 bytes of XML), and shares runs of whitespace (a pretty-printed message's indentation).
    Its start() and end() are expat's own handlers (Reader._expat)."""

    def __init__(self, limits):
        self.limits = limits
        self.root = None
        self._tree = TreeBuilder()
        self._names = {}    # expat's "namespace}local" -> ElementTree's "{namespace}local"
        self._blanks = {}
        self._elements = self._depth = self._text = self._memory = 0

    def start(self, tag, attrs):
        """expat's StartElementHandler: attributes as a list [name, value, name, value...]."""
        limits = self.limits
        self._elements += 1
        self._depth += 1
        self._text = 0
        if self._elements > limits.elements:
            raise OverBudget("with more than %d elements" % limits.elements)
        if self._depth > limits.depth:
            raise OverBudget("nested deeper than %d elements" % limits.depth)
        names = self._names
        cost, attrib = _ELEMENT, {}
        if attrs:
            for i in range(0, len(attrs), 2):
                attrib[names.get(attrs[i]) or self._name(attrs[i])] = attrs[i + 1]
            cost += _ATTRIBUTES + _ATTRIBUTE * len(attrib) + sum(map(_chars, attrib.values()))
        self._spend(cost)
        elem = self._tree.start(names.get(tag) or self._name(tag), attrib)
        if self.root is None:
            self.root = elem
        return elem

    def _name(self, raw):
        if len(self._names) >= self.limits.names:
            raise OverBudget("with more than %d distinct names" % self.limits.names)
        name = "{" + raw if "}" in raw else raw
        if len(name) > _NAME_CHARS:
            raise OverBudget("with a name of over %d characters" % _NAME_CHARS)
        self._names[raw] = name
        return name

    def end(self, tag):
        self._depth -= 1
        self._text = 0
        return self._tree.end(self._names.get(tag, tag))

    def data(self, text):
        self._text += len(text)
        if self._text > self.limits.text:
            raise OverBudget("with a text of over %d characters" % self.limits.text)
        blank = len(text) <= 64 and text.isspace()
        shared = self._blanks.get(text) if blank else None
        if shared is not None:
            text = shared
        else:
            if blank and len(self._blanks) < 256:
                self._blanks[text] = text
            self._spend(_chars(text))
        self._tree.data(text)

    def _spend(self, cost):
        self._memory += cost
        if self._memory > self.limits.tree:
            raise OverBudget("needing over %s of memory" % size(self.limits.tree))

    def close(self):
        return self._tree.close()


class Reader:
    """Parses XML fed in pieces; `feed()` raises OverBudget, or what expat and defusedxml
    raise (ParseError, DefusedXmlException, ValueError, LookupError), once, at the first
    problem; later pieces only count against the size. `root` is the tree so far."""

    def __init__(self, limits):
        self.limits = limits
        self.size = 0
        self._scanner = _Scanner(limits)
        self._builder = _Builder(limits)
        # Made at the first byte expat takes: a parser and its handlers are a reference
        # cycle until close(), which an empty answer (a 204) would never free but by the
        # garbage collector.
        self._parser = None
        self._failed = False

    @property
    def root(self):
        return self._builder.root

    def feed(self, data):
        self.size += len(data)
        if self.size > self.limits.size:
            self._failed = True
            raise OverBudget("of over %s" % size(self.limits.size))
        if self._failed:
            return
        self._failed = True   # until this piece is through
        if self.size == len(data) and data[:2] in (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<"):
            raise ValueError("UTF-16 or UTF-32, where this client reads UTF-8")
        safe = self._scanner.scan(bytes(data))
        if safe:   # up to a refused token: a request refused in its body is known as one
            self._expat().feed(safe)
        if self._scanner.failure is not None:
            raise self._scanner.failure
        self._failed = False

    def close(self):
        """The root element of the whole document; raises as feed() does."""
        if self._failed:
            raise RuntimeError("close() after a failed feed()")
        self._failed = True
        parser = self._expat()
        parser.feed(self._scanner.carry)   # an unfinished token: expat says what is wrong
        return parser.close()

    def _expat(self):
        if self._parser is None:
            self._parser = DefusedXMLParser(target=self._builder, forbid_dtd=True,
                                            forbid_entities=True, forbid_external=True)
            # The builder takes expat's names as they come: ElementTree's handlers would
            # only rename them and call it, a Python call more for every tag.
            expat = self._parser.parser
            expat.StartElementHandler = self._builder.start
            expat.EndElementHandler = self._builder.end
        return self._parser
