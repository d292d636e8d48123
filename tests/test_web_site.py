"""
Tests for L{globalchat.web.site}: what a browser gets over HTTP.
"""

import gzip

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat.admission import Admission
from globalchat.chat.hub import Hub
from globalchat.store.memory import MemoryStore
from globalchat.web.gate import Gate
from globalchat.web.site import HEALTH_TIMEOUT, ChatSite
from tests.webclient import Browser


def parse(answer: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *fields = head.split(b"\r\n")
    headers = dict(field.lower().split(b": ", 1) for field in fields)
    return int(status.split()[1]), headers, body


class SilentStore(MemoryStore):
    """A store that never answers."""

    def history(self, room, limit):
        return Deferred()


class SiteTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.admission = Admission(Hub(), clock=self.clock)
        self.admission.startService()
        self.addCleanup(self.admission.stopService)
        self.site = ChatSite(self.admission, MemoryStore(), Gate(), self.clock, 4096)

    def get(self, path, method=b"GET", site=None, **headers):
        return parse(Browser(site or self.site).request(path, method, **headers))

    def test_files(self):
        """
        The page and its two files, each with its content type.
        """
        for path, kind in ((b"/", b"text/html"), (b"/app.js", b"text/javascript"),
                           (b"/style.css", b"text/css")):
            status, headers, body = self.get(path)
            self.assertEqual((status, headers[b"content-type"]), (200, kind + b"; charset=utf-8"))
            self.assertEqual(int(headers[b"content-length"]), len(body))
        self.assertIn(b'<script src="app.js" defer></script>', self.get(b"/")[2])

    def test_securityHeaders(self):
        """
        Every answer, a 404 too, forbids inline and foreign script, MIME
        sniffing and referrers, and sets no cookie.
        """
        for path in (b"/", b"/nothing", b"/healthz"):
            status, headers, body = self.get(path)
            self.assertIn(b"script-src 'self'", headers[b"content-security-policy"])
            self.assertIn(b"default-src 'none'", headers[b"content-security-policy"])
            self.assertEqual(headers[b"x-content-type-options"], b"nosniff")
            self.assertEqual(headers[b"referrer-policy"], b"no-referrer")
            self.assertNotIn(b"set-cookie", headers)

    def test_cachingAndGzip(self):
        """
        A file is revalidated by its ETag (304 when unchanged), and gzipped
        for a browser that takes it.
        """
        status, headers, body = self.get(b"/app.js")
        self.assertEqual(headers[b"cache-control"], b"no-cache")
        status, _, body = self.get(b"/app.js", If_None_Match=headers[b"etag"].decode())
        self.assertEqual((status, body), (304, b""))
        status, zipped, body = self.get(b"/app.js", Accept_Encoding="gzip, deflate")
        self.assertEqual(zipped[b"content-encoding"], b"gzip")
        self.assertEqual(gzip.decompress(body), self.get(b"/app.js")[2])
        self.assertNotEqual(zipped[b"etag"], headers[b"etag"])
        self.assertNotIn(b"content-encoding", self.get(b"/app.js", Accept_Encoding="gzip;q=0")[1])

    def test_head(self):
        """
        HEAD has GET's headers and no body.
        """
        status, headers, body = self.get(b"/style.css", b"HEAD")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(int(headers[b"content-length"]), len(self.get(b"/style.css")[2]))

    def test_notFound(self):
        """
        Other paths are a 404 page pointing at the chat.
        """
        for path in (b"/nothing", b"/app.js/more"):
            status, headers, body = self.get(path)
            self.assertEqual(status, 404)
            self.assertIn(b"The chat is at /.", body)

    def test_health(self):
        """
        /healthz is 200 while the chat runs and its store answers, 503
        when the store is silent or the chat stopped.
        """
        status, _, body = self.get(b"/healthz")
        self.assertEqual(status, 200)
        self.assertIn(b"ok", body)
        silent = ChatSite(self.admission, SilentStore(), Gate(), self.clock, 4096)
        browser = Browser(silent)
        self.assertEqual(browser.request(b"/healthz"), b"")
        self.clock.advance(HEALTH_TIMEOUT)
        self.assertEqual(parse(browser.read())[0], 503)
        self.admission.stopService()
        self.assertEqual(self.get(b"/healthz")[0], 503)
