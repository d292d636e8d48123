# -*- test-case-name: tests.test_web_site -*-
"""
The site a C{--web} port serves: the chat page and its two files, the
WebSocket (C{/ws}), and C{/healthz}, with the headers a page on the open
internet needs.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from importlib.resources import files

from twisted.internet.interfaces import IAddress, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.web import pages
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from globalchat.chat.admission import Admission
from globalchat.server import describePeer
from globalchat.store.interface import IMessageStore
from globalchat.web.gate import Gate
from globalchat.web.websocket import ChatSocketFactory, ChatSocketResource

#: The page's files: URL path, file name, content type.
ASSETS = [
    (b"", "index.html", b"text/html; charset=utf-8"),
    (b"app.js", "app.js", b"text/javascript; charset=utf-8"),
    (b"style.css", "style.css", b"text/css; charset=utf-8"),
]

#: Sent with every answer.  The page's script and style come from its
#: own files only, so that no text a user typed can ever run; the page
#: talks to its own server only, and cannot be framed by another site.
SECURITY_HEADERS = {
    b"content-security-policy": b"default-src 'none'; script-src 'self'; style-src 'self'; "
                                b"img-src 'self'; connect-src 'self'; base-uri 'none'; "
                                b"form-action 'none'; frame-ancestors 'none'",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
    b"cross-origin-opener-policy": b"same-origin",
}

#: Seconds the store has to answer a health check.
HEALTH_TIMEOUT = 5.0

_GZIP = re.compile(rb"(?:^|[\s,])gzip(?!\s*;\s*q=0(?:\.0*)?\b)", re.IGNORECASE)


def notFound() -> IResource:
    """
    The answer to a path the site does not have.
    """
    return pages.notFound("No such page", "The chat is at /.")


class Root(Resource):
    """
    C{/}: the page's files, the WebSocket, the health check, and a 404
    page for anything else.
    """

    def getChild(self, path: bytes, request: Request) -> IResource:
        return notFound()


class Asset(Resource):
    """
    One of the page's files, read once: with an C{ETag}, so that a
    browser revalidates it cheaply, and gzipped for the browsers that
    take it, when that makes it smaller.
    """

    def __init__(self, body: bytes, contentType: bytes) -> None:
        super().__init__()
        self.body = body
        self.gzipped = gzip.compress(body, mtime=0)
        self.contentType = contentType
        self.etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode("ascii") + b'"'

    def getChild(self, path: bytes, request: Request) -> IResource:
        return notFound()

    def render_GET(self, request: Request) -> bytes:
        compress = (len(self.gzipped) < len(self.body)
                    and _GZIP.search(request.getHeader(b"accept-encoding") or b""))
        etag = self.etag[:-1] + b'-gz"' if compress else self.etag
        request.setHeader(b"content-type", self.contentType)
        request.setHeader(b"etag", etag)
        # Kept, but checked with the server on every use: an upgraded
        # server's page is seen at once.
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"vary", b"accept-encoding")
        if etag in re.split(rb"\s*,\s*", request.getHeader(b"if-none-match") or b""):
            request.setResponseCode(304)
            return b""
        if compress:
            request.setHeader(b"content-encoding", b"gzip")
            return self.gzipped
        return self.body

    def render_HEAD(self, request: Request) -> bytes:
        """
        The headers a GET would have, without its body (twisted.web would
        drop the body too, but log a warning for each HEAD).
        """
        body = self.render_GET(request)
        request.setHeader(b"content-length", b"%d" % len(body))
        return b""


class Health(Resource):
    """
    C{/healthz}: 200 while the chat runs and its store answers, for a
    load balancer or a monitor; 503 otherwise.
    """

    isLeaf = True

    def __init__(self, admission: Admission, store: IMessageStore, clock: IReactorTime) -> None:
        super().__init__()
        self._admission = admission
        self._store = store
        self._clock = clock

    def render_GET(self, request: Request) -> bytes | int:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        if not self._admission.running:
            request.setResponseCode(503)
            return b"stopped\n"
        finished = []
        request.notifyFinish().addBoth(finished.append)
        # Asking for the history of a room that cannot exist is a real
        # round trip to the store that reads nothing.
        asked = self._store.history("", 1).addTimeout(HEALTH_TIMEOUT, self._clock)

        def answer(status: int, body: bytes) -> None:
            if not finished:
                request.setResponseCode(status)
                request.write(body)
                request.finish()

        asked.addCallbacks(lambda _: answer(200, b"ok\n"),
                           lambda _: answer(503, b"the history store does not answer\n"))
        return NOT_DONE_YET


class WebRequest(Request):
    """
    A request whose answer, whatever it is, carries the security headers.
    """

    def process(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.setHeader(name, value)
        super().process()


class ChatSite(Site):
    """
    The site of every C{--web} port of one server.

    Addresses that may not connect at all are refused before a byte is
    read, as on the line ports; one that is a trusted proxy is screened
    per WebSocket instead, by the address it forwards.
    """

    requestFactory = WebRequest
    displayTracebacks = False
    noisy = False

    def __init__(self, admission: Admission, store: IMessageStore, gate: Gate,
                 clock: IReactorTime, maxLineLength: int) -> None:
        root = Root()
        for path, name, contentType in ASSETS:
            body = files(__package__).joinpath("static", name).read_bytes()
            root.putChild(path, Asset(body, contentType))
        root.putChild(b"ws", ChatSocketResource(ChatSocketFactory(admission, gate, clock,
                                                                  maxLineLength)))
        root.putChild(b"healthz", Health(admission, store, clock))
        super().__init__(root)
        self.admission = admission
        self.gate = gate

    def buildProtocol(self, addr: IAddress) -> Protocol | None:
        host = getattr(addr, "host", None)
        if host is not None and not self.gate.trusted(host) \
                and not self.admission.screen(host, describePeer(addr)):
            return None
        return super().buildProtocol(addr)

    def log(self, request: Request) -> None:
        """
        No access log: every connection and login is logged by the chat.
        """
