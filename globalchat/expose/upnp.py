# -*- test-case-name: tests.test_expose_upnp -*-
"""
UPnP Internet Gateway Device: port mapping the way most home routers of
the last twenty years understand it.

Discovery is an SSDP search multicast on the LAN; the router answers with
the address of an XML description, which names the control URL of its
WANIPConnection (or WANPPPConnection) service; mappings are SOAP calls to
that URL.  All of it comes from the LAN and is treated as hostile: every
reply is size-bounded, every request times out, the XML is parsed with
defusedxml, and a description is only fetched from the host that answered
the search.
"""

from __future__ import annotations

import ipaddress
from io import BytesIO
from typing import Sequence
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import escape

from defusedxml import ElementTree
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.protocol import DatagramProtocol, Protocol
from twisted.web.client import Agent, FileBodyProducer, ResponseDone
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse
from zope.interface import implementer

from globalchat.expose.gateway import localAddressFor
from globalchat.expose.mapping import IPortMapper, Mapping, MappingError

SSDP_ADDRESS = ("239.255.255.250", 1900)

#: Service types in order of preference: IGDv2 has AddAnyPortMapping.
SERVICES = (
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
)
SEARCH_TARGETS = (
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
)

MAX_SSDP_REPLIES = 16
MAX_BODY = 64 * 1024
REQUEST_TIMEOUT = 5.0

CONFLICT = 718
ONLY_PERMANENT = 725
NO_SUCH_ENTRY = 714
#: How many other external ports an IGDv1 gateway is asked for after a
#: conflict.
CONFLICT_TRIES = 8


class UpnpError(MappingError):
    """
    The gateway answered a SOAP call with a UPnP error.

    @ivar code: the UPnP error code, e.g. 718.
    """

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"UPnP: the gateway refused ({code} {description})")
        self.code = code


class _Search(DatagramProtocol):
    noisy = False

    def __init__(self, reactor, address: tuple[str, int], timeout: float) -> None:
        self._reactor = reactor
        self._address = address
        self._timeout = timeout
        self.locations: list[str] = []
        self._replies = 0
        self.done: Deferred[list[str]] = Deferred()

    def startProtocol(self) -> None:
        for target in SEARCH_TARGETS:
            message = (
                "M-SEARCH * HTTP/1.1\r\n"
                f"HOST: {self._address[0]}:{self._address[1]}\r\n"
                'MAN: "ssdp:discover"\r\nMX: 2\r\n'
                f"ST: {target}\r\n\r\n"
            )
            try:
                self.transport.write(message.encode("ascii"), self._address)
            except OSError as e:
                self.transport.stopListening()
                self.done.errback(MappingError(f"UPnP: cannot send the search ({e.strerror})"))
                return
        self._reactor.callLater(self._timeout, self._finish)

    def datagramReceived(self, data: bytes, addr: tuple[str, int]) -> None:
        self._replies += 1
        if self._replies > MAX_SSDP_REPLIES:
            return
        for line in data[:2048].decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() != "location":
                continue
            location = value.strip()
            # Only fetch from the device that answered: a LAN device must
            # not be able to send us to another host.
            host = urlsplit(location).hostname
            if host == addr[0] and location not in self.locations:
                self.locations.append(location)

    def _finish(self) -> None:
        self.transport.stopListening()
        self.done.callback(self.locations)


class _Body(Protocol):
    def __init__(self, finished: Deferred[bytes]) -> None:
        self._finished = finished
        self._data: list[bytes] = []
        self._size = 0

    def dataReceived(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > MAX_BODY:
            self.transport.stopProducing()
            if not self._finished.called:
                self._finished.errback(MappingError("UPnP: oversized reply from the gateway"))
            return
        self._data.append(data)

    def connectionLost(self, reason) -> None:
        if self._finished.called:
            return
        if reason.check(ResponseDone) or self._data:
            self._finished.callback(b"".join(self._data))
        else:
            self._finished.errback(MappingError("UPnP: the gateway cut the reply short"))


async def _http(reactor, agent, method: bytes, url: str, headers: dict[bytes, list[bytes]],
                body: bytes | None, timeout: float) -> tuple[int, bytes]:
    producer = FileBodyProducer(BytesIO(body)) if body is not None else None
    d = agent.request(method, url.encode("ascii"), Headers(headers), producer)
    d.addTimeout(timeout, reactor)
    try:
        response: IResponse = await d
    except Exception as e:
        raise MappingError(f"UPnP: no answer from {urlsplit(url).netloc} ({e.__class__.__name__})") from None
    if response.length is not None and response.length != -1 and response.length > MAX_BODY:
        response.deliverBody(Protocol())
        raise MappingError("UPnP: oversized reply from the gateway")
    finished: Deferred[bytes] = Deferred()
    response.deliverBody(_Body(finished))
    finished.addTimeout(timeout, reactor)
    try:
        return response.code, await finished
    except MappingError:
        raise
    except Exception as e:
        raise MappingError(f"UPnP: no answer from {urlsplit(url).netloc} ({e.__class__.__name__})") from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _parse(data: bytes):
    try:
        return ElementTree.fromstring(data)
    except Exception:
        raise MappingError("UPnP: the gateway sent malformed XML") from None


def parseDescription(data: bytes, location: str) -> tuple[str, str] | None:
    """
    Find the preferred WAN connection service in a device description.

    @return: its service type and absolute control URL, or C{None}.
    """
    root = _parse(data)
    base = location
    found: dict[str, str] = {}
    for element in root.iter():
        if _local(element.tag) == "URLBase" and element.text:
            base = element.text.strip()
        if _local(element.tag) != "service":
            continue
        fields = {_local(child.tag): (child.text or "").strip() for child in element}
        kind, control = fields.get("serviceType", ""), fields.get("controlURL", "")
        if kind in SERVICES and control and kind not in found:
            found[kind] = control
    for kind in SERVICES:
        if kind in found:
            url = urljoin(base, found[kind])
            if urlsplit(url).hostname != urlsplit(location).hostname:
                raise MappingError("UPnP: the gateway's control URL points at another host")
            return kind, url
    return None


def soapEnvelope(service: str, action: str, arguments: Sequence[tuple[str, object]]) -> bytes:
    """
    The SOAP request body for one action.
    """
    inner = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in arguments)
    return (
        '<?xml version="1.0"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
        f'<u:{action} xmlns:u="{escape(service)}">{inner}</u:{action}>'
        "</s:Body></s:Envelope>"
    ).encode("utf-8")


def parseSoapReply(code: int, data: bytes) -> dict[str, str]:
    """
    The output arguments of a SOAP reply.

    @raise UpnpError: for a UPnP fault.
    @raise MappingError: for anything else that is not a success.
    """
    root = _parse(data)
    fault = {_local(e.tag): (e.text or "").strip() for e in root.iter()}
    if "errorCode" in fault:
        try:
            number = int(fault["errorCode"])
        except ValueError:
            number = 0
        raise UpnpError(number, fault.get("errorDescription", "error"))
    if code != 200:
        raise MappingError(f"UPnP: the gateway answered HTTP {code}")
    for element in root.iter():
        if _local(element.tag).endswith("Response"):
            return {_local(child.tag): (child.text or "").strip() for child in element}
    raise MappingError("UPnP: the gateway's reply has no response element")


@implementer(IPortMapper)
class UpnpMapper:
    """
    Port mappings through one gateway's WAN connection service.
    """

    method = "upnp"

    def __init__(self, reactor, service: str, controlURL: str, agent=None,
                 timeout: float = REQUEST_TIMEOUT) -> None:
        self._reactor = reactor
        self.service = service
        self.controlURL = controlURL
        self._agent = agent if agent is not None else Agent(reactor)
        self._timeout = timeout
        self._client = localAddressFor(urlsplit(controlURL).hostname)

    async def _call(self, action: str, *arguments: tuple[str, object]) -> dict[str, str]:
        code, data = await _http(
            self._reactor, self._agent, b"POST", self.controlURL,
            {b"Content-Type": [b'text/xml; charset="utf-8"'],
             b"SOAPAction": [f'"{self.service}#{action}"'.encode("ascii")]},
            soapEnvelope(self.service, action, arguments), self._timeout,
        )
        return parseSoapReply(code, data)

    def externalAddress(self) -> Deferred[str]:
        async def ask() -> str:
            reply = await self._call("GetExternalIPAddress")
            address = reply.get("NewExternalIPAddress", "")
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise MappingError(f"UPnP: the gateway gave no usable external address ({address!r})") from None
            return address

        return ensureDeferred(ask())

    async def _add(self, internalPort: int, externalPort: int, lifetime: int) -> int:
        common = [("NewRemoteHost", ""), ("NewExternalPort", externalPort), ("NewProtocol", "TCP"),
                  ("NewInternalPort", internalPort), ("NewInternalClient", self._client),
                  ("NewEnabled", 1), ("NewPortMappingDescription", "globalchat"),
                  ("NewLeaseDuration", lifetime)]
        if self.service.endswith(":2"):
            reply = await self._call("AddAnyPortMapping", *common)
            reserved = reply.get("NewReservedPort", "")
            if not reserved.isdigit() or not 0 < int(reserved) < 65536:
                raise MappingError(f"UPnP: the gateway reserved no usable port ({reserved!r})")
            return int(reserved)
        await self._call("AddPortMapping", *common)
        return externalPort

    def addMapping(self, internalPort: int, externalPort: int, lifetime: int) -> Deferred[Mapping]:
        async def add() -> Mapping:
            granted = lifetime
            candidates = [externalPort] + [
                1024 + (externalPort + i * 7919) % 64511 for i in range(1, CONFLICT_TRIES + 1)
            ]
            for candidate in candidates:
                try:
                    port = await self._add(internalPort, candidate, granted)
                except UpnpError as e:
                    if e.code == ONLY_PERMANENT and granted:
                        granted = 0
                        port = await self._add(internalPort, candidate, granted)
                    elif e.code == CONFLICT:
                        continue
                    else:
                        raise
                return Mapping("upnp", internalPort, port, None, granted)
            raise MappingError(f"UPnP: every external port tried was taken ({CONFLICT} ConflictInMappingEntry)")

        return ensureDeferred(add())

    def deleteMapping(self, mapping: Mapping) -> Deferred[None]:
        async def delete() -> None:
            await self._call("DeletePortMapping", ("NewRemoteHost", ""),
                             ("NewExternalPort", mapping.externalPort), ("NewProtocol", "TCP"))

        return ensureDeferred(delete())

    def hasMapping(self, mapping: Mapping) -> Deferred[bool]:
        """
        Whether the gateway still has C{mapping} (it forgets them when it
        restarts).
        """
        async def ask() -> bool:
            try:
                await self._call("GetSpecificPortMappingEntry", ("NewRemoteHost", ""),
                                 ("NewExternalPort", mapping.externalPort), ("NewProtocol", "TCP"))
            except UpnpError as e:
                if e.code == NO_SUCH_ENTRY:
                    return False
                raise
            return True

        return ensureDeferred(ask())


def discover(reactor, timeout: float = 2.0, address: tuple[str, int] = SSDP_ADDRESS,
             agent=None) -> Deferred[UpnpMapper]:
    """
    Find an Internet Gateway Device on the LAN by SSDP and return a mapper
    for its preferred WAN connection service.

    @param address: where to send the search; the SSDP multicast group
        unless a test points it elsewhere.
    """
    async def find() -> UpnpMapper:
        search = _Search(reactor, address, timeout)
        reactor.listenUDP(0, search, maxPacketSize=2048)
        locations = await search.done
        if not locations:
            raise MappingError("UPnP: no Internet Gateway Device answered the search")
        http = agent if agent is not None else Agent(reactor)
        reasons = []
        for location in locations:
            try:
                code, data = await _http(reactor, http, b"GET", location, {}, None, REQUEST_TIMEOUT)
                if code != 200:
                    raise MappingError(f"UPnP: the description at {location} answered HTTP {code}")
                found = parseDescription(data, location)
            except MappingError as e:
                reasons.append(str(e))
                continue
            if found is not None:
                return UpnpMapper(reactor, found[0], found[1], agent=http)
        raise MappingError(reasons[0] if reasons else
                           "UPnP: the gateway offers no WAN connection service")

    return ensureDeferred(find())
