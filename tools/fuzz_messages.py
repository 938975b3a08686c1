"""What a fuzzed ACS sends the session engine, for each position of a session: valid requests of
every RPC, requests generated with random argument shapes, tree mutations of a corpus of valid
requests, byte mutations of messages in the wire dialects of real ACSs (tests/_engine.py), and
the answers an ACS gives to the Inform and to the CPE's own requests.

    gen = Messages(random.Random(seed), parameter_names)
    source, (status, headers, body) = gen.acs_turn(ns)        # the ACS's turn: a request, or the end
    source, (status, headers, body) = gen.inform_answer(ns)
    source, (status, headers, body) = gen.cpe_request_answer(ns, "TransferComplete")

Deterministic for a seed; standard library only.
"""

import re
import xml.etree.ElementTree as ET

from tr069client import namespaces, soap

import _engine

SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
FOREIGN = "urn:example:not-cwmp"
_PV = '<ParameterValueStruct><Name>%s</Name><Value xsi:type="%s">%s</Value></ParameterValueStruct>'


def _spv(key, *params):
    """A SetParameterValues of `params`, each (name, xsi type, value), with the ParameterKey `key`."""
    return ('<cwmp:SetParameterValues><ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[%d]">%s'
            "</ParameterList><ParameterKey>%s</ParameterKey></cwmp:SetParameterValues>"
            % (len(params), "".join(_PV % p for p in params), key))


# Valid requests of every method a CPE may be asked (and some it does not implement).
CORPUS = [
    "<cwmp:GetRPCMethods/>",
    "<cwmp:GetParameterNames><ParameterPath>Device.ManagementServer.</ParameterPath>"
    "<NextLevel>true</NextLevel></cwmp:GetParameterNames>",
    '<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType="xsd:string[2]">'
    "<string>Device.DeviceInfo.</string><string>Device.ManagementServer.URL</string>"
    "</ParameterNames></cwmp:GetParameterValues>",
    _spv("pk",
         ("Device.ManagementServer.PeriodicInformInterval", "xsd:unsignedInt", "600"),
         ("Device.DeviceInfo.ProvisioningCode", "xsd:string", "fuzz")),
    '<cwmp:GetParameterAttributes><ParameterNames soap-enc:arrayType="xsd:string[1]">'
    "<string>Device.ManagementServer.</string></ParameterNames></cwmp:GetParameterAttributes>",
    '<cwmp:SetParameterAttributes><ParameterList soap-enc:arrayType="cwmp:SetParameterAttributesStruct[1]">'
    "<SetParameterAttributesStruct><Name>Device.DeviceInfo.ProvisioningCode</Name>"
    "<NotificationChange>true</NotificationChange><Notification>1</Notification>"
    "<AccessListChange>true</AccessListChange>"
    '<AccessList soap-enc:arrayType="xsd:string[1]"><string>Subscriber</string></AccessList>'
    "</SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>",
    "<cwmp:AddObject><ObjectName>Device.NAT.PortMapping.</ObjectName><ParameterKey>a</ParameterKey>"
    "</cwmp:AddObject>",
    "<cwmp:DeleteObject><ObjectName>Device.NAT.PortMapping.1.</ObjectName><ParameterKey>d</ParameterKey>"
    "</cwmp:DeleteObject>",
    _spv("diag",
         ("Device.IP.Diagnostics.IPPing.Host", "xsd:string", "127.0.0.1"),
         ("Device.IP.Diagnostics.IPPing.DiagnosticsState", "xsd:string", "Requested")),
    _spv("dl",
         ("Device.IP.Diagnostics.DownloadDiagnostics.DownloadURL", "xsd:string", "http://127.0.0.1:8/f"),
         ("Device.IP.Diagnostics.DownloadDiagnostics.NumberOfConnections", "xsd:unsignedInt", "2"),
         ("Device.IP.Diagnostics.DownloadDiagnostics.DiagnosticsState", "xsd:string", "Requested")),
    _spv("ns", ("Device.DNS.Diagnostics.NSLookupDiagnostics.DiagnosticsState", "xsd:string", "Canceled")),
    "<cwmp:ScheduleInform><DelaySeconds>60</DelaySeconds><CommandKey>s</CommandKey></cwmp:ScheduleInform>",
    "<cwmp:Reboot><CommandKey>r</CommandKey></cwmp:Reboot>",
    "<cwmp:FactoryReset/>",
    "<cwmp:Download><CommandKey>fw</CommandKey><FileType>1 Firmware Upgrade Image</FileType>"
    "<URL>http://fs.example/fw.bin</URL><Username>u</Username><Password>p</Password>"
    "<FileSize>1000</FileSize><TargetFileName>fw.bin</TargetFileName><DelaySeconds>3600</DelaySeconds>"
    "<SuccessURL></SuccessURL><FailureURL></FailureURL></cwmp:Download>",
    "<cwmp:Download><CommandKey>cfg</CommandKey><FileType>3 Vendor Configuration File</FileType>"
    "<URL>http://fs.example/site.alter</URL><Username></Username><Password></Password>"
    "<FileSize>0</FileSize><TargetFileName></TargetFileName><DelaySeconds>3600</DelaySeconds>"
    "<SuccessURL></SuccessURL><FailureURL></FailureURL></cwmp:Download>",
    "<cwmp:Upload><CommandKey>up</CommandKey><FileType>1 Vendor Configuration File</FileType>"
    "<URL>http://fs.example/up</URL><Username></Username><Password></Password>"
    "<DelaySeconds>3600</DelaySeconds></cwmp:Upload>",
    "<cwmp:Upload><CommandKey>log</CommandKey><FileType>4 Vendor Log File 2</FileType>"
    "<URL>http://fs.example/log</URL><Username></Username><Password></Password>"
    "<DelaySeconds>3600</DelaySeconds></cwmp:Upload>",
    "<cwmp:GetQueuedTransfers/>",
    "<cwmp:GetAllQueuedTransfers/>",
    "<cwmp:CancelTransfer><CommandKey>fw</CommandKey></cwmp:CancelTransfer>",
    "<cwmp:GetOptions><OptionName>x</OptionName></cwmp:GetOptions>",
    "<cwmp:ChangeDUState><Operations/><CommandKey>c</CommandKey></cwmp:ChangeDUState>",
    "<cwmp:X_ACME_Frobnicate/>",
]
# The arguments of each method (TR-069 A.3.2, A.4.1); "[]" marks an array, its items' tag after it.
ARGS = {
    "GetParameterNames": ["ParameterPath", "NextLevel"],
    "GetParameterValues": ["ParameterNames[]string"],
    "SetParameterValues": ["ParameterList[]ParameterValueStruct", "ParameterKey"],
    "GetParameterAttributes": ["ParameterNames[]string"],
    "SetParameterAttributes": ["ParameterList[]SetParameterAttributesStruct"],
    "AddObject": ["ObjectName", "ParameterKey"],
    "DeleteObject": ["ObjectName", "ParameterKey"],
    "Reboot": ["CommandKey"],
    "Download": ["CommandKey", "FileType", "URL", "Username", "Password", "FileSize", "TargetFileName",
                 "DelaySeconds", "SuccessURL", "FailureURL"],
    "Upload": ["CommandKey", "FileType", "URL", "Username", "Password", "DelaySeconds"],
    "ScheduleInform": ["DelaySeconds", "CommandKey"],
    "CancelTransfer": ["CommandKey"],
    "GetOptions": ["OptionName"],
    "SetVouchers": ["VoucherList[]base64"],
    "ScheduleDownload": ["CommandKey", "FileType", "URL", "Username", "Password", "FileSize",
                         "TargetFileName", "TimeWindowList[]TimeWindowStruct"],
    "ChangeDUState": ["Operations[]InstallOpStruct", "CommandKey"],
}
STRUCTS = {"ParameterValueStruct": ["Name", "Value"],
           "SetParameterAttributesStruct": ["Name", "NotificationChange", "Notification", "AccessListChange",
                                            "AccessList[]string"],
           "TimeWindowStruct": ["WindowStart", "WindowEnd", "WindowMode", "UserMessage", "MaxRetries"],
           "InstallOpStruct": ["URL", "UUID", "Username", "Password", "ExecutionEnvRef"]}
# Methods an ACS must not send as requests: the CPE's own, and responses.
WRONG_PLACE = ["Inform", "TransferComplete", "InformResponse", "TransferCompleteResponse",
               "GetRPCMethodsResponse", "Kicked", "RequestDownload", "AutonomousTransferComplete"]
METHOD_NAMES = sorted(set(m for ns in namespaces.METHODS.values() for m in ns)) + ["X_ACME_Frobnicate"]
ODD_TEXT = ["", " ", "0", "1", "-1", "2", "4294967295", "4294967296", "9" * 40, "true", "false", "TRUE",
            " 1 ", "x" * 300, "\u00b2", "\u0661", "\u00e9t\u00e9", "Device.", "Device.NAT.PortMapping.",
            "Device.NAT.PortMapping.1.", "Device.NoSuch.", "Device.ManagementServer.URL",
            "1 Firmware Upgrade Image", "2 Web Content", "3 Vendor Configuration File",
            "2 Vendor Log File", "3 Vendor Configuration File 7", "4 Vendor Log File 1", "X 00D0C9 Thing",
            "http://fs/x.alter", "http://u:p@fs/y.overwrite", "ftp://fs/x", "http://[::1", "fw", "<&>",
            "k" * 33, "Subscriber", "2026-11-25T10:00:00Z", "0001-01-01T00:00:00Z", "\t\n", "a\x7fb"]
XSI_TYPES = ["xsd:string", "xsd:unsignedInt", "xsd:int", "xsd:boolean", "xsd:dateTime", "xsd:base64",
             "xsd:hexBinary", "xsd:unsignedLong", "xsd:long", "xsd:decimal", "soap-enc:string",
             "string", "nope:thing", "xsd:", "", "cwmp:IPAddress"]
TAGS = ["Name", "Value", "string", "ParameterKey", "CommandKey", "FileType", "URL", "NextLevel",
        "Notification", "X", "ParameterList", "ParameterNames", "ObjectName", "DelaySeconds"]
DIALECTS = [_engine.genieacs, _engine.freeacs, _engine.openacs]
_SPECIAL = [b"<", b">", b"&", b"&amp;", b"&#0;", b"&#x110000;", b"&bogus;", b"</x>", b"<x>", b'"', b"'",
            b"<![CDATA[x]]>", b"<?pi x?>", b"<!-- c -->", b"\x00", b"\xff", b"\xc3", b"\xef\xbb\xbf",
            b"\xe2\x80\xa8", b"<!DOCTYPE d [<!ENTITY e 'x'>]>", b"&e;", b" xmlns:cwmp=\"urn:x\"",
            b" xmlns=\"\"", b"\r\n", b"&lt;"]


# What the ACS sets in a diagnostic test (TR-181 IP.Diagnostics, DNS.Diagnostics), by name.
DIAGNOSTIC_VALUES = {
    "DiagnosticsState": ["Requested"] * 4 + ["Canceled", "None", "Complete", "Error_Internal"],
    "Host": ["127.0.0.1", "::1", "localhost", "acs.example", "", "256.1.1.1"],
    "HostName": ["localhost", "acs.example", "", "x" * 300],
    "HostList": ["127.0.0.1,::1", "a.example,b.example", ""],
    "DNSServer": ["127.0.0.1", "", "::1"],
    "Interface": ["", "Device.IP.Interface.1", "Device.IP.Interface.9", "Device.Nothing"],
    "ProtocolVersion": ["Any", "IPv4", "IPv6", "IPv5"],
    "Protocol": ["ICMP", "UDP Echo", "TCP"],
    "DownloadURL": ["http://127.0.0.1:8/f", "ftp://127.0.0.1/f", "https://fs.example/x", "", "gopher://x"],
    "UploadURL": ["http://127.0.0.1:8/u", "ftp://127.0.0.1/u", "", "mailto:x"],
    "NumberOfConnections": ["1", "4", "8", "9", "999"],
    "NumberOfRepetitions": ["1", "3", "0", "65536"],
    "NumberOfTries": ["1", "3", "0"],
    "Timeout": ["1000", "1", "0", "4294967295"],
    "DataBlockSize": ["56", "1", "65535", "0"],
    "TestFileLength": ["0", "100000", "4294967295"],
    "MaxHopCount": ["30", "1", "64", "0"],
}

# Every password the generator writes starts with this, and only passwords do: none may show in
# a log line, an answer or the debug trace of a message.
SECRET = "s3cr3t"


class Messages:
    """The generators, over one random.Random; `names` are parameter and object paths to use,
    `secured` the names of password parameters."""

    def __init__(self, rng, names, secured=(), diagnostics=()):
        self.rng = rng
        self.names = list(names)
        self.secured = list(secured)
        self.diagnostics = list(diagnostics)   # the writable parameters of the diagnostic tests

    def secret(self):
        return "%s%06x" % (SECRET, self.rng.randrange(1 << 24))

    # --- positions of a session --------------------------------------------------------------

    def acs_turn(self, ns):
        """(source, (status, headers, body)) for the ACS's turn: mostly a request, else the end."""
        r = self.rng.random()
        if r < 0.92:
            source, inner = self._request_inner(ns)
            if source == "byte-mutated":
                return source, (200, {}, inner)
            return source, (200, {}, self.envelope(ns, inner))
        if r < 0.97:
            return "end", self._end()
        if r < 0.985:
            return "wrong-place", (200, {}, self.envelope(ns, self.generated(self.rng.choice(WRONG_PLACE))))
        return "http-status", self._http_status()

    def inform_answer(self, ns):
        r = self.rng.random()
        if r < 0.7:
            return "InformResponse", (200, {}, self.envelope(ns, _engine.INFORM_RESPONSE))
        if r < 0.8:
            return "InformResponse mutated", (200, {}, self.mutate_bytes(self.dialect(
                ns, _engine.INFORM_RESPONSE)))
        if r < 0.85:
            return "ACS fault", (200, {}, self.envelope(ns, self.acs_fault()))
        if r < 0.9:
            return "request", (200, {}, self.envelope(ns, self._request_inner(ns, bytes_ok=False)[1]))
        if r < 0.95:
            return "end", self._end()
        return "http-status", self._http_status()

    def cpe_request_answer(self, ns, method):
        r = self.rng.random()
        if r < 0.6:
            return method + "Response", (200, {}, self.envelope(ns, "<cwmp:%sResponse/>" % method))
        if r < 0.7:
            return "ACS fault", (200, {}, self.envelope(ns, self.acs_fault()))
        if r < 0.8:
            return "request", (200, {}, self.envelope(ns, self._request_inner(ns, bytes_ok=False)[1]))
        if r < 0.85:
            return "malformed", (200, {}, self.mutate_bytes(self.dialect(ns, "<cwmp:%sResponse/>" % method)))
        if r < 0.9:
            return "other response", (200, {}, self.envelope(ns, self.generated(self.rng.choice(WRONG_PLACE))))
        if r < 0.95:
            return "end", self._end()
        return "http-status", self._http_status()

    def _request_inner(self, ns, bytes_ok=True):
        r = self.rng.random()
        if r < 0.45:
            return "generated", self.generated(self.rng.choice(METHOD_NAMES))
        if r < 0.85 or not bytes_ok:
            return "tree-mutated", self.mutate_tree(self.rng.choice(CORPUS))
        return "byte-mutated", self.mutate_bytes(self.dialect(ns, self.rng.choice(CORPUS)))

    def _end(self):
        return self.rng.choice([(204, {}, b""), (200, {}, b""), (200, {}, b"  \r\n"), (204, {}, b"junk")])

    def _http_status(self):
        status = self.rng.choice([500, 401, 404, 302, 503, 503, 400, 199, 299])
        retry = self.rng.choice([None, "120", "0", "-5", "99999999999", "\u00b2", "Wed, 21 Oct 2015 07:28:00 GMT"])
        return status, ({"retry-after": retry} if retry is not None else {}), self.rng.choice([b"", b"<x/>"])

    def acs_fault(self):
        code = self.rng.choice(["8000", "8005", "9001", "", "x", "99999999999"])
        return ("<soap-env:Fault><faultcode>Client</faultcode><faultstring>CWMP fault</faultstring><detail>"
                "<cwmp:Fault><FaultCode>%s</FaultCode><FaultString>%s</FaultString></cwmp:Fault></detail>"
                "</soap-env:Fault>" % (code, self.rng.choice(["no", "", "<![CDATA[&]]>"])))

    # --- envelopes ---------------------------------------------------------------------------

    def envelope(self, ns, inner):
        """`inner` (with cwmp:, soap-enc:, xsi: and xsd: prefixes) in an envelope of random shape:
        SOAP prefix, the cwmp prefix's namespace, ID and HoldRequests header variants."""
        rng = self.rng
        env = rng.choice(["soap-env", "SOAP-ENV", "soapenv", "s"])
        cwmp = rng.choice([ns, ns, ns, ns, rng.choice(soap.CWMP_NAMESPACES), FOREIGN])
        method_ns = rng.random()
        if method_ns < 0.05:      # the method element in no namespace, its arguments too
            inner = inner.replace("<cwmp:", "<").replace("</cwmp:", "</")
        elif method_ns < 0.1:     # the method in a default namespace declared on itself
            inner = _default_namespace(inner, rng.choice(soap.CWMP_NAMESPACES + (FOREIGN,)))
        heads = []
        for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
            heads.append(rng.choice([
                '<cwmp:ID %s:mustUnderstand="1">%s</cwmp:ID>' % (env, rng.choice(["1", "fz-%d" % rng.randrange(10 ** 6),
                                                                                   "", "x" * 300, "&lt;\u00e9"])),
                "<cwmp:ID>%d</cwmp:ID>" % rng.randrange(100),
                '<c:ID xmlns:c="%s">%d</c:ID>' % (rng.choice(soap.CWMP_NAMESPACES + (FOREIGN,)), rng.randrange(100)),
                "<cwmp:HoldRequests>%s</cwmp:HoldRequests>" % rng.choice(["1", "0", "true", "false", " True ", "2"]),
                "<cwmp:NoMoreRequests>%s</cwmp:NoMoreRequests>" % rng.choice(["0", "1"]),
                '<f:Thing xmlns:f="%s" %s:mustUnderstand="1">x</f:Thing>' % (FOREIGN, env)]))
        header = rng.choice(["", "<%s:Header>%s</%s:Header>" % (env, "".join(heads), env)]) if heads else \
            rng.choice(["", "<%s:Header/>" % env])
        decl = rng.choice(['<?xml version="1.0" encoding="UTF-8"?>\n', "", "<?xml version='1.0'?>"])
        text = ('%s<%s:Envelope xmlns:%s="%s" xmlns:soap-enc="%s" xmlns:xsd="%s" xmlns:xsi="%s" xmlns:cwmp="%s">'
                "%s<%s:Body>%s</%s:Body></%s:Envelope>" % (decl, env, env, soap.NS_ENV, SOAP_ENC, XSD, XSI, cwmp,
                                                           header, env, inner.replace("soap-env:", env + ":"),
                                                           env, env))
        return text.encode("utf-8", "surrogatepass")

    def dialect(self, ns, inner):
        """`inner` as GenieACS, FreeACS or OpenACS would send it."""
        status, headers, text = self.rng.choice(DIALECTS)(inner, ns=ns)
        enc = re.search(r'xmlns:([\w-]+)="%s"' % SOAP_ENC, text).group(1)   # the dialect's own prefix
        return text.replace("soap-enc:", enc + ":").encode("utf-8")

    # --- generated requests ----------------------------------------------------------------

    def generated(self, method):
        """`method` with random arguments: missing, duplicated, nested, empty, huge-ish, with
        wrong xsi:types, foreign namespaces and prefixes."""
        args = [self._arg(a) for a in ARGS.get(method, self.rng.sample(sorted(ARGS["Download"]), 2))
                if self.rng.random() > 0.08]
        self._shuffle(args)
        return "<cwmp:%s>%s</cwmp:%s>" % (method, "".join(args), method)

    def _shuffle(self, parts):
        rng = self.rng
        if parts and rng.random() < 0.1:
            parts.append(rng.choice(parts))                  # duplicated
        if rng.random() < 0.1:
            rng.shuffle(parts)
        if rng.random() < 0.05:
            parts.append(self._element(rng.choice(TAGS), self._text("X")))

    def _arg(self, spec, depth=0):
        name, array, item = spec.partition("[]")
        if not array:
            return self._element(name, self._text(name))
        rng = self.rng
        n = rng.choice([0, 1, 1, 2, 3, 5])
        if rng.random() < 0.004:
            n = rng.choice([300, 3000, 16385])
        if item in STRUCTS and depth < 3:
            items = ["<%s>%s</%s>" % (item, "".join(self._fields(item, depth)), item) for _ in range(min(n, 500))]
        else:
            items = [self._element(item, self._text("string" if item == "string" else item)) for _ in range(n)]
        count = rng.choice([len(items)] * 6 + [len(items) + 1, 0, "x", ""])
        item_type = ("xsd:" if item in ("string", "base64") else "cwmp:") + item
        attr = rng.choice([' soap-enc:arrayType="%s[%s]"' % (item_type, count)] * 5 + ["", ' soap-enc:arrayType="x"'])
        return "<%s%s>%s</%s>" % (name, attr, "".join(items), name)

    def _fields(self, struct, depth):
        r = self.rng.random()
        if struct == "ParameterValueStruct" and self.secured and r < 0.3:
            fields = [self._element("Name", self.rng.choice(self.secured)), self._element("Value", self.secret())]
        elif struct == "ParameterValueStruct" and self.diagnostics and r < 0.45:
            name = self.rng.choice(self.diagnostics)
            fields = [self._element("Name", name), self._element("Value", soap.escape(self._diagnostic(name)))]
        else:
            fields = [self._arg(f, depth + 1) for f in STRUCTS[struct] if self.rng.random() > 0.05]
        if struct == "ParameterValueStruct" and fields and self.rng.random() < 0.3:
            fields.reverse()                                 # Value before Name
        self._shuffle(fields)
        return fields

    def _diagnostic(self, name):
        """A value for the diagnostics parameter `name`: mostly one a test takes."""
        rng, last = self.rng, name.rsplit(".", 1)[1]
        if rng.random() < 0.15:
            return rng.choice(ODD_TEXT)
        return rng.choice(DIAGNOSTIC_VALUES.get(last, ["1", "0", "", "5"]))

    def _element(self, name, text):
        rng = self.rng
        r = rng.random()
        attrs = ""
        if name == "Value" or r < 0.05:
            attrs = rng.choice([' xsi:type="%s"' % rng.choice(XSI_TYPES)] * 4 + ["", ' xsi:nil="true"'])
        prefix = ""
        if rng.random() < 0.08:
            prefix = rng.choice(["cwmp:", "soap-env:", "f:"])
            if prefix == "f:":
                attrs += ' xmlns:f="%s"' % rng.choice([FOREIGN, rng.choice(soap.CWMP_NAMESPACES)])
        r = rng.random()
        if r < 0.03:
            return "<%s%s%s/>" % (prefix, name, attrs)
        if r < 0.05:                                          # nested: an element where text belongs
            text = "<%s>%s</%s>" % (name, text, name)
        return "<%s%s%s>%s</%s%s>" % (prefix, name, attrs, text, prefix, name)

    def _text(self, name):
        rng = self.rng
        r = rng.random()
        if r < 0.002:
            value = rng.choice("xA.&<") * rng.choice([5000, 70000])
        elif r < 0.3:
            value = rng.choice(ODD_TEXT)
        elif name in ("Name", "string", "ParameterPath", "ObjectName"):
            value = rng.choice(self.names) if r < 0.9 else rng.choice(self.names)[:-3]
        elif name == "Value":
            value = rng.choice(["600", "true", "0", "abc", "2026-01-01T00:00:00Z", "192.0.2.1", "Device.IP.Interface.1",
                                "", "-7", "http://acs.example/cwmp", "fuzz"])
        elif name == "Password":
            value = self.secret()
        elif name == "URL":
            value = rng.choice(["http://fs.example/fw.bin", "https://fs.example/a.alter", "http://u:%s@fs/x.overwrite"
                                % self.secret(), "http://fs.example/", "http://fs.example:99999/x"])
        elif name == "FileType":
            value = rng.choice(ODD_TEXT[18:26])
        else:
            value = rng.choice(["1", "0", "60", "k", "true", "Subscriber", ""])
        return soap.escape(value) if "&" not in value[:1] else value

    # --- mutations ---------------------------------------------------------------------------

    def mutate_tree(self, inner):
        """A corpus request with elements dropped, duplicated, renamed, re-texted or its method swapped."""
        rng = self.rng
        wrapper = ET.fromstring('<w xmlns:cwmp="urn:c" xmlns:soap-enc="%s" xmlns:xsi="%s" xmlns:xsd="%s">%s</w>'
                                % (SOAP_ENC, XSI, XSD, inner))
        method = wrapper[0]
        for _ in range(rng.randrange(1, 5)):
            nodes = [(p, c) for p in method.iter() for c in p]
            what = rng.randrange(5)
            if what == 0 and nodes:
                parent, c = rng.choice(nodes)
                parent.remove(c)
            elif what == 1 and nodes:
                parent, c = rng.choice(nodes)
                parent.insert(list(parent).index(c), ET.fromstring(ET.tostring(c)))
            elif what == 2:
                rng.choice([e for e in method.iter() if len(e) == 0]).text = rng.choice(ODD_TEXT)
            elif what == 3 and nodes:
                rng.choice(nodes)[1].tag = rng.choice(TAGS)
            else:
                method.tag = "{urn:c}" + rng.choice(METHOD_NAMES)
        text = ET.tostring(method, encoding="unicode")
        # Back to the prefixes the envelope declares (ElementTree names them ns0, ns1...).
        for uri, prefix in (("urn:c", "cwmp"), (SOAP_ENC, "soap-enc"), (XSI, "xsi"), (XSD, "xsd")):
            for decl in [d for d in _decls(text) if d[1] == uri]:
                text = text.replace(' xmlns:%s="%s"' % decl, "").replace("<%s:" % decl[0], "<%s:" % prefix) \
                    .replace("</%s:" % decl[0], "</%s:" % prefix).replace(" %s:" % decl[0], " %s:" % prefix)
        return text

    def mutate_bytes(self, data):
        """`data` with bytes flipped, cut, repeated, inserted or truncated (1 to 4 times)."""
        rng = self.rng
        for _ in range(rng.randrange(1, 5)):
            i = rng.randrange(len(data) + 1)
            what = rng.randrange(6)
            if what == 0:
                data = data[:i] + bytes([rng.randrange(256)]) + data[i + 1:]
            elif what == 1:
                data = data[:i] + data[i + rng.randrange(1, 33):]
            elif what == 2:
                j = min(len(data), i + rng.randrange(1, 65))
                data = data[:j] + data[i:j] + data[j:]
            elif what == 3:
                data = data[:i] + rng.choice(_SPECIAL) + data[i:]
            elif what == 4 and rng.random() < 0.3:
                data = data[:i]
            else:
                data = data.replace(b'encoding="UTF-8"', rng.choice(
                    [b'encoding="UTF-16"', b'encoding="latin-1"', b'encoding="bogus"', b'encoding="ascii"']), 1)
        return data


def _default_namespace(inner, uri):
    """`inner` with its method element unprefixed, in the default namespace `uri`."""
    name = inner[6:].split(">", 1)[0].split(" ", 1)[0].rstrip("/")
    if not inner.startswith("<cwmp:"):
        return inner
    head = '<%s xmlns="%s"' % (name, uri)
    close = "</cwmp:%s>" % name
    if inner.endswith(close):
        return head + inner[6 + len(name):-len(close)] + "</%s>" % name
    return head + inner[6 + len(name):]


def _decls(text):
    """The (prefix, uri) pairs ElementTree declared in `text`."""
    return _DECL.findall(text)


_DECL = re.compile(r' xmlns:([^=]+)="([^"]*)"')
