"""
Tests for L{globalchat.expose.reachability}: C{--verify-via} through the
port mapper, with fake gateways, a fake helper and a L{Clock}.
"""

from twisted.internet.error import ConnectionRefusedError
from twisted.trial.unittest import SynchronousTestCase

from globalchat.expose.mapper import Target
from globalchat.expose.path import Path
from globalchat.expose.reachability import FIRST_RETRY_DELAY, MAX_RETRY_DELAY
from tests.test_expose_mapper import (
    BAD,
    FINGERPRINT,
    GOOD,
    HELPER,
    FakeMapper,
    MapperHarness,
    mapping,
)

CONFIRMED = ("reachable at 8.8.8.8:12345 (confirmed by 45.33.32.2:12346) \N{EM DASH} "
             "globalchat-client 8.8.8.8 12345")
CARRIER_PATH = Path("45.33.32.2", ("10.77.1.1", "100.64.0.1", "45.33.32.2"), reached=True)


class VerifyTests(MapperHarness, SynchronousTestCase):
    """
    After each mapping and renewal a helper is asked to connect back;
    what the user reads follows what it found, once per change.
    """

    def test_confirmed(self):
        """
        A helper that connected makes the line say "reachable", naming
        it; it was asked to probe the external port, with TLS for a TLS
        port.
        """
        pcp = FakeMapper("PCP", [mapping("pcp", external=40001, address="8.8.8.8")])
        self.service(pcp, answers=[f"PROBE OK {FINGERPRINT} Hello"]).expose(
            Target(12345, FINGERPRINT))
        self.assertEqual(self.asked, [(*HELPER, 40001, True)])
        self.assertEqual(self.messages()[-1], (
            "reachable at 8.8.8.8:40001 (confirmed by 45.33.32.2:12346) \N{EM DASH} "
            f"globalchat-client 8.8.8.8 40001 --tls --fingerprint {FINGERPRINT}"))

    def test_helperOutweighsSignals(self):
        """
        A helper that connected is believed over a suspicious path (a
        provider's router with a private address looks like a NAT).
        """
        pcp = FakeMapper("PCP", [mapping("pcp", address="8.8.8.8")])
        self.service(pcp, answers=[GOOD], path=CARRIER_PATH).expose(Target(12345))
        self.assertEqual(self.messages()[-1], CONFIRMED)

    def test_couldNotConnect(self):
        """
        A helper that could not connect gets a warning naming it, the
        likely cause, the signal and what to do; never "reachable".
        """
        pcp = FakeMapper("PCP", [mapping("pcp", address="45.33.32.1")])
        self.service(pcp, answers=[BAD], path=CARRIER_PATH).expose(Target(12345))
        [event] = [e for e in self.events if e.get("status")]
        self.assertEqual(event["log_level"].name, "warn")
        last = self.messages()[-1]
        self.assertTrue(last.startswith(
            "mapped on the router at 45.33.32.1:12345, but 45.33.32.2:12346 could not connect: "
            "likely another NAT upstream (router 2 on the way out, 100.64.0.1, is in the "
            "carrier-grade NAT range 100.64.0.0/10 (path hop)); 45.33.32.2:12346 said: "
            "8.8.8.8:12345 refused the connection"), last)
        self.assertIn("ask your provider for a public IPv4 address", last)
        self.assertTrue(last.endswith("; asking again later, less and less often"), last)

    def test_retriedWithBackOffQuietly(self):
        """
        A failed verification is tried again after 90 s, then twice as
        long each time up to half an hour; repeating the same answer logs
        nothing, and the first success is logged.
        """
        pcp = FakeMapper("PCP", [mapping("pcp", address="8.8.8.8", lifetime=86400)])
        self.service(pcp, answers=[BAD] * 7 + [GOOD]).expose(Target(12345))
        self.messages()
        waits = []
        for _ in range(7):
            call = min(self.clock.getDelayedCalls(), key=lambda c: c.getTime())
            waits.append(call.getTime() - self.clock.seconds())
            self.clock.advance(waits[-1])
        self.assertEqual(waits, [90, 180, 360, 720, 1440, 1800, 1800])
        self.assertEqual((FIRST_RETRY_DELAY, MAX_RETRY_DELAY), (90, 1800))
        self.assertEqual(self.messages(), [CONFIRMED])
        self.assertEqual(len(self.asked), 8)

    def test_renewalAsksAgain(self):
        """
        Each renewal asks the helper again, and cancels a pending retry;
        an unchanged verdict is not logged again, a changed one is.
        """
        granted = mapping("pcp", address="8.8.8.8", lifetime=600)
        pcp = FakeMapper("PCP", [granted] * 3)
        self.service(pcp, lease=600, answers=[GOOD, GOOD, BAD]).expose(Target(12345))
        self.assertEqual(self.messages()[-1], CONFIRMED)
        self.clock.advance(300)
        self.assertEqual(self.messages(), [])
        self.clock.advance(300)
        [message] = self.messages()
        self.assertIn("but 45.33.32.2:12346 could not connect", message)
        self.assertEqual(len(self.asked), 3)
        # The retry and the next renewal are all that is pending.
        self.assertEqual(sorted(c.getTime() - self.clock.seconds()
                                for c in self.clock.getDelayedCalls()), [90, 300])

    def test_helperUnreachable(self):
        """
        A helper that cannot be asked leaves the mapping unconfirmed, says
        why, and is asked again later.
        """
        pcp = FakeMapper("PCP", [mapping("pcp", address="8.8.8.8")])
        self.service(pcp, answers=[ConnectionRefusedError(), GOOD]).expose(Target(12345))
        last = self.messages()[-1]
        self.assertTrue(last.startswith(
            "mapped on the router at 8.8.8.8:12345 \N{EM DASH} friends connect with "
            "globalchat-client 8.8.8.8 12345; not confirmed from outside yet; could not ask "
            "45.33.32.2:12346"), last)
        self.clock.advance(FIRST_RETRY_DELAY)
        self.assertEqual(self.messages(), [CONFIRMED])

    def test_rateLimitedTriesNext(self):
        """
        A helper that refuses (it allows one probe a minute) is passed
        over for the next one.
        """
        pcp = FakeMapper("PCP", [mapping("pcp", address="8.8.8.8")])
        self.service(pcp, answers=["PROBE REFUSED one probe per address per minute", GOOD],
                     helpers=[HELPER, ("45.33.32.2", 12347)]).expose(Target(12345))
        self.assertEqual([a[1] for a in self.asked], [12346, 12347])
        self.assertIn("(confirmed by 45.33.32.2:12347)", self.messages()[-1])

    def test_stopCancelsRetries(self):
        """
        Stopping leaves nothing scheduled: no retry outlives the server.
        """
        pcp = FakeMapper("PCP", [mapping("pcp", address="8.8.8.8")])
        service = self.service(pcp, answers=[BAD])
        service.expose(Target(12345))
        service.stopService()
        self.assertEqual(self.clock.getDelayedCalls(), [])
