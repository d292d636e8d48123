"""
Tests for L{globalchat.expose.upnp} against a fake SSDP responder and a
fake Internet Gateway Device served by twisted.web on 127.0.0.1.
"""

from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site

from globalchat.expose import upnp
from globalchat.expose.mapping import Mapping, MappingError

DESCRIPTION = """<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><device><deviceList><device><deviceList><device>
<serviceList>
{services}
</serviceList></device></deviceList></device></deviceList></device></root>"""

SERVICE = "<service><serviceType>{kind}</serviceType><controlURL>{url}</controlURL></service>"

FAULT = """<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>
<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>{code}</errorCode>
<errorDescription>{text}</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"""


def reply(action, **values):
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in values.items())
    return (f'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
            f'<s:Body><u:{action}Response xmlns:u="x">{inner}</u:{action}Response>'
            f"</s:Body></s:Envelope>").encode()


class FakeIGD(Resource):
    """
    A gateway whose answers the test scripts.

    @ivar faults: action name -> list of (code, text) faults to answer
        before succeeding.
    @ivar calls: (action, body) of every SOAP call.
    """

    isLeaf = True

    def __init__(self, version=2, services=None):
        super().__init__()
        kind = f"urn:schemas-upnp-org:service:WANIPConnection:{version}"
        self.services = services or [(kind, "/ctl")]
        self.faults = {}
        self.calls = []
        self.mappings = set()
        self.hang = False
        self.garbage = None

    def render_GET(self, request):
        services = "".join(SERVICE.format(kind=k, url=u) for k, u in self.services)
        return DESCRIPTION.format(services=services).encode()

    def render_POST(self, request):
        action = request.getHeader("soapaction").strip('"').rpartition("#")[2]
        body = request.content.read().decode()
        self.calls.append((action, body))
        if self.hang:
            return NOT_DONE_YET
        if self.garbage is not None:
            return self.garbage
        faults = self.faults.get(action, [])
        if faults:
            code, text = faults.pop(0)
            request.setResponseCode(500)
            return FAULT.format(code=code, text=text).encode()
        port = body.split("<NewExternalPort>")[1].split("<")[0] if "<NewExternalPort>" in body else ""
        if action == "GetExternalIPAddress":
            return reply(action, NewExternalIPAddress="8.8.4.4")
        if action in ("AddPortMapping", "AddAnyPortMapping"):
            self.mappings.add(port)
            return reply(action, NewReservedPort=port)
        if action == "DeletePortMapping":
            self.mappings.discard(port)
            return reply(action)
        if action == "GetSpecificPortMappingEntry":
            if port not in self.mappings:
                request.setResponseCode(500)
                return FAULT.format(code=714, text="NoSuchEntryInArray").encode()
            return reply(action, NewInternalPort=port)
        request.setResponseCode(500)
        return FAULT.format(code=401, text="Invalid Action").encode()


class FakeSSDP(DatagramProtocol):
    """
    Answers any search with C{location}.
    """

    def __init__(self, location):
        self.location = location
        self.searches = []

    def datagramReceived(self, data, addr):
        self.searches.append(data)
        self.transport.write(
            f"HTTP/1.1 200 OK\r\nST: x\r\nLOCATION: {self.location}\r\n\r\n".encode(), addr)


class CodecTests(SynchronousTestCase):
    """
    Descriptions and SOAP, without a network.
    """

    def test_prefersIGDv2(self):
        """
        WANIPConnection:2 is preferred over :1 and over WANPPPConnection.
        """
        services = "".join(SERVICE.format(kind=k, url=u) for k, u in [
            ("urn:schemas-upnp-org:service:WANPPPConnection:1", "/ppp"),
            ("urn:schemas-upnp-org:service:WANIPConnection:1", "/ip1"),
            ("urn:schemas-upnp-org:service:WANIPConnection:2", "/ip2"),
        ])
        found = upnp.parseDescription(DESCRIPTION.format(services=services).encode(),
                                      "http://10.0.0.1:5000/desc.xml")
        self.assertEqual(found, ("urn:schemas-upnp-org:service:WANIPConnection:2",
                                 "http://10.0.0.1:5000/ip2"))

    def test_pppOnly(self):
        """
        A PPP connection service is used when it is the only one.
        """
        services = SERVICE.format(kind="urn:schemas-upnp-org:service:WANPPPConnection:1", url="/ppp")
        self.assertEqual(upnp.parseDescription(DESCRIPTION.format(services=services).encode(),
                                               "http://10.0.0.1/d")[1], "http://10.0.0.1/ppp")

    def test_controlElsewhereRefused(self):
        """
        A control URL on another host than the description is refused.
        """
        services = SERVICE.format(kind=upnp.SERVICES[0], url="http://198.51.100.1/ctl")
        self.assertRaises(MappingError, upnp.parseDescription,
                          DESCRIPTION.format(services=services).encode(), "http://10.0.0.1/d")

    def test_hostileXML(self):
        """
        Entity expansion and broken XML are refused, not parsed.
        """
        bomb = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>')
        for data in (bomb, b"<root><unclosed>", b"\xff\xfe garbage"):
            self.assertRaises(MappingError, upnp.parseDescription, data, "http://10.0.0.1/")

    def test_envelopeEscapes(self):
        """
        Argument values are escaped.
        """
        body = upnp.soapEnvelope("urn:x", "Act", [("A", "<&>")])
        self.assertIn(b"<A>&lt;&amp;&gt;</A>", body)

    def test_fault(self):
        """
        A UPnP fault becomes a one-line error with its code.
        """
        e = self.assertRaises(upnp.UpnpError, upnp.parseSoapReply, 500,
                              FAULT.format(code=606, text="Action not authorized").encode())
        self.assertEqual((e.code, str(e)), (606, "UPnP: the gateway refused (606 Action not authorized)"))


class GatewayTests(TestCase):
    """
    Discovery and mapping against the fakes.
    """

    def serve(self, igd):
        port = reactor.listenTCP(0, Site(igd), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        location = f"http://127.0.0.1:{port.getHost().port}/desc.xml"
        ssdp = FakeSSDP(location)
        udp = reactor.listenUDP(0, ssdp, interface="127.0.0.1")
        self.addCleanup(udp.stopListening)
        return ("127.0.0.1", udp.getHost().port), ssdp

    async def mapper(self, igd, **kw):
        address, _ = self.serve(igd)
        return await upnp.discover(reactor, timeout=0.2, address=address, **kw)

    def run_(self, coroutine):
        from twisted.internet.defer import ensureDeferred
        return ensureDeferred(coroutine)

    def test_mapV2(self):
        """
        IGDv2: AddAnyPortMapping; the external address is asked for.
        """
        async def go():
            igd = FakeIGD(version=2)
            m = await self.mapper(igd)
            mapping = await m.addMapping(12345, 12345, 3600)
            self.assertEqual(mapping, Mapping("upnp", 12345, 12345, None, 3600))
            self.assertEqual(await m.externalAddress(), "8.8.4.4")
            self.assertEqual(igd.calls[0][0], "AddAnyPortMapping")
            self.assertIn("<NewPortMappingDescription>globalchat<", igd.calls[0][1])
        return self.run_(go())

    def test_conflictV1(self):
        """
        IGDv1 on 718: another port is tried and reported.
        """
        async def go():
            igd = FakeIGD(version=1)
            igd.faults["AddPortMapping"] = [(718, "ConflictInMappingEntry")]
            m = await self.mapper(igd)
            mapping = await m.addMapping(12345, 12345, 3600)
            self.assertNotEqual(mapping.externalPort, 12345)
            self.assertEqual(len(igd.calls), 2)
        return self.run_(go())

    def test_onlyPermanent(self):
        """
        On 725 the mapping is made permanent (lifetime 0).
        """
        async def go():
            igd = FakeIGD(version=1)
            igd.faults["AddPortMapping"] = [(725, "OnlyPermanentLeasesSupported")]
            m = await self.mapper(igd)
            mapping = await m.addMapping(12345, 12345, 3600)
            self.assertEqual(mapping.lifetime, 0)
            self.assertIn("<NewLeaseDuration>0<", igd.calls[1][1])
        return self.run_(go())

    def test_refused(self):
        """
        606 is a refusal with the code and text.
        """
        async def go():
            igd = FakeIGD()
            igd.faults["AddAnyPortMapping"] = [(606, "Action not authorized")]
            m = await self.mapper(igd)
            with self.assertRaises(MappingError) as caught:
                await m.addMapping(12345, 12345, 3600)
            self.assertIn("606 Action not authorized", str(caught.exception))
        return self.run_(go())

    def test_deleteAndForgotten(self):
        """
        A deleted mapping is no longer there, which renewal can see.
        """
        async def go():
            igd = FakeIGD()
            m = await self.mapper(igd)
            mapping = await m.addMapping(12345, 12345, 3600)
            self.assertTrue(await m.hasMapping(mapping))
            await m.deleteMapping(mapping)
            self.assertFalse(await m.hasMapping(mapping))
        return self.run_(go())

    def test_timeout(self):
        """
        A gateway that never answers times out with a one-line error.
        """
        async def go():
            igd = FakeIGD()
            igd.hang = True
            address, _ = self.serve(igd)
            m = await upnp.discover(reactor, timeout=0.2, address=address)
            m._timeout = 0.3
            with self.assertRaises(MappingError) as caught:
                await m.addMapping(12345, 12345, 3600)
            self.assertIn("no answer from 127.0.0.1", str(caught.exception))
        return self.run_(go())

    def test_garbageAndOversized(self):
        """
        Garbage and oversized replies are one-line errors.
        """
        async def go():
            igd = FakeIGD()
            m = await self.mapper(igd)
            for garbage, expected in ((b"not xml at all", "malformed XML"),
                                      (b"<a>" + b"x" * (upnp.MAX_BODY + 10) + b"</a>", "oversized")):
                igd.garbage = garbage
                with self.assertRaises(MappingError) as caught:
                    await m.addMapping(12345, 12345, 3600)
                self.assertIn(expected, str(caught.exception))
        return self.run_(go())

    def test_nothingAnswers(self):
        """
        With no device answering, discovery fails with a clear line.
        """
        async def go():
            silent = reactor.listenUDP(0, DatagramProtocol(), interface="127.0.0.1")
            self.addCleanup(silent.stopListening)
            with self.assertRaises(MappingError) as caught:
                await upnp.discover(reactor, timeout=0.1, address=("127.0.0.1", silent.getHost().port))
            self.assertIn("no Internet Gateway Device", str(caught.exception))
        return self.run_(go())

    def test_locationElsewhereIgnored(self):
        """
        A search answer pointing at another host than its sender is ignored.
        """
        async def go():
            igd = FakeIGD()
            address, ssdp = self.serve(igd)
            ssdp.location = "http://198.51.100.9:80/desc.xml"
            with self.assertRaises(MappingError):
                await upnp.discover(reactor, timeout=0.1, address=address)
        return self.run_(go())
