"""
Tests for L{globalchat.expose.probe}: connecting back to a requester, on
127.0.0.1.
"""

from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.internet.endpoints import serverFromString
from twisted.trial.unittest import SynchronousTestCase, TestCase

from globalchat import tls
from globalchat.chat.admission import Admission
from globalchat.chat.hub import Hub
from globalchat.expose.probe import ProbeHelper, parseRequest
from globalchat.server import ChatFactory


class ParseTests(SynchronousTestCase):
    """
    L{parseRequest}.
    """

    def test_valid(self):
        """
        A port, with or without C{tls}.
        """
        self.assertEqual(parseRequest("/probe 12345"), (12345, False))
        self.assertEqual(parseRequest("/probe 443 tls"), (443, True))

    def test_invalid(self):
        """
        Anything else is not a request; in particular no address can be
        named, so the helper can only ever connect back to the requester.
        """
        for text in ("/probe", "/probe 0", "/probe 70000", "/probe x", "/probe 1 ssl",
                     "/probe 198.51.100.7 80", "/probe 80 tls extra", "probe 80"):
            self.assertIsNone(parseRequest(text), text)


class ProbeHelperTests(TestCase):
    """
    L{ProbeHelper} against a real server on 127.0.0.1.
    """

    def listen(self, description):
        endpoint = serverFromString(reactor, description)
        d = endpoint.listen(ChatFactory(Admission(Hub())))

        def listening(port):
            self.addCleanup(port.stopListening)
            return port.getHost().port

        return d.addCallback(listening)

    async def _plain(self):
        port = await self.listen("tcp:0:interface=127.0.0.1")
        answer = await ProbeHelper(reactor).answer("127.0.0.1", f"/probe {port}")
        self.assertEqual(answer, "PROBE OK Hello Good morning !!!! ::: globalchat-probe")

    def test_plain(self):
        """
        A reachable server is reported with the greeting it sent.
        """
        return ensureDeferred(self._plain())

    async def _tls(self):
        cert, key, _ = tls.ensureCertificate(Path(self.mktemp()))
        port = await self.listen(tls.withCertificate("ssl:0:interface=127.0.0.1", cert, key))
        answer = await ProbeHelper(reactor).answer("127.0.0.1", f"/probe {port} tls")
        self.assertEqual(
            answer,
            f"PROBE OK {tls.fingerprint(cert.read_bytes())} "
            "Hello Good morning !!!! ::: globalchat-probe",
        )

    def test_tls(self):
        """
        Over TLS the answer carries the fingerprint seen, so the requester
        can compare it with its own.
        """
        return ensureDeferred(self._tls())

    async def _refused(self):
        port = await self.listen("tcp:0:interface=127.0.0.1")
        helper = ProbeHelper(reactor)
        await helper.answer("127.0.0.1", f"/probe {port}")
        again = await helper.answer("127.0.0.1", f"/probe {port}")
        self.assertEqual(again, "PROBE REFUSED one probe per address per minute")

    def test_oncePerMinute(self):
        """
        A second probe from the same address within a minute is refused.
        """
        return ensureDeferred(self._refused())

    async def _failed(self):
        answer = await ProbeHelper(reactor).answer("127.0.0.1", "/probe 1")
        self.assertTrue(answer.startswith("PROBE FAILED 127.0.0.1:1 refused the connection"), answer)

    def test_failed(self):
        """
        A port nobody listens on is reported as failed, with why.
        """
        return ensureDeferred(self._failed())

    def test_badRequest(self):
        """
        A malformed request gets the usage.
        """
        d = ensureDeferred(ProbeHelper(reactor).answer("127.0.0.1", "/probe me"))
        d.addCallback(self.assertEqual, "PROBE REFUSED usage: /probe PORT [tls]")
        return d
