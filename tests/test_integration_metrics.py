"""
Integration test of C{--metrics}: the real C{twistd globalchat}, a chat,
a flood, a bad password and a refused connection driven through it on
127.0.0.1, and C{/metrics} scraped over HTTP and parsed as Prometheus
would, after each.
"""

import re
import urllib.request

from prometheus_client.parser import text_string_to_metric_families
from twisted.trial.unittest import TestCase

from tests.processes import RawClient, Server

METRICS = re.compile(rb"listening on 127\.0\.0\.1:(\d+) \(--metrics ")


def readUntil(client: RawClient, prefix: str) -> list[str]:
    """
    The lines C{client} reads up to and including one starting with
    C{prefix} (each read bounded by the socket's time-out).
    """
    lines = [client.readLine()]
    while not lines[-1].startswith(prefix):
        lines.append(client.readLine())
    return lines


class MetricsTests(TestCase):
    """
    What an operator's Prometheus sees of a server's first minutes.
    """

    timeout = 60

    def setUp(self):
        self.server = Server(self, "--port", "tcp:0:interface=127.0.0.1",
                             "--metrics", "tcp:0:interface=127.0.0.1",
                             "--rate", "1/min", "--burst", "5", "--max-per-ip", "3")
        self.port = self.server.ports[0]
        self.metricsPort = int(self.server.waitFor(METRICS)[0].group(1))

    def scrape(self) -> dict[tuple[str, tuple], float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metricsPort}/metrics",
                                    timeout=10) as answer:
            text = answer.read().decode("utf-8")
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples}

    def login(self, name: str) -> RawClient:
        client = RawClient(self, self.port)
        client.send(name.encode() + b"\r\n")
        readUntil(client, f"JOIN #lobby {name}")
        return client

    def test_countersMove(self):
        """
        A message to a room of two, a flood, a wrong password and a
        connection over the per-address limit each move their counters
        by exactly what happened.
        """
        start = self.scrape()
        self.assertEqual(start["globalchat_connections_accepted_total", (("kind", "tcp"),)], 0)
        self.assertGreater(start["process_resident_memory_bytes", ()], 0)

        ann, bob = self.login("Ann"), self.login("Bob")
        self.assertEqual(ann.readLine(), "JOIN #lobby Bob")
        before = self.scrape()
        ann.send(b"hello\r\n")
        line = "MSG #lobby <Ann> hello"
        self.assertEqual((ann.readLine(), bob.readLine()), (line, line))
        after = self.scrape()
        moved = {name: after[name, ()] - before[name, ()] for name in (
            "globalchat_lines_received_total", "globalchat_deliveries_total",
            "globalchat_received_bytes_total", "globalchat_sent_bytes_total",
            "globalchat_store_write_duration_seconds_count", "globalchat_history_messages")}
        self.assertEqual(moved, {
            "globalchat_lines_received_total": 1, "globalchat_deliveries_total": 2,
            "globalchat_received_bytes_total": len(b"hello\r\n"),
            "globalchat_sent_bytes_total": 2 * len(line.encode() + b"\r\n"),
            "globalchat_store_write_duration_seconds_count": 1,
            "globalchat_history_messages": 1})

        # Blank lines count against the rate and say nothing: 4 more fit
        # in the burst, and the 31st dropped within 10 s cuts it off.
        flooder = self.login("Flo")
        flooder.send(b"\r\n" * 40)
        self.assertEqual(readUntil(flooder, "ERROR flooding")[-1], "ERROR flooding: disconnected")

        cy = self.login("Cy")
        cy.send(b"/register cy-password-1\r\n/quit\r\n")
        readUntil(cy, "OK /quit")
        self.assertEqual(cy.socket.recv(1), b"")
        guesser = RawClient(self, self.port)
        guesser.send(b"Cy\r\n")
        self.assertEqual(guesser.readLine(), "AUTH Cy")
        guesser.send(b"not-the-password\r\n")
        self.assertEqual(guesser.readLine(), "ERROR wrong password; give your name again")

        # Ann, Bob and the guesser are three from 127.0.0.1: the limit.
        refused = RawClient(self, self.port)
        self.assertEqual(refused.readLine(), "ERROR too many connections from your address (max 3)")

        end = self.scrape()
        self.assertEqual({key: end[key] for key in [
            ("globalchat_connections_accepted_total", (("kind", "tcp"),)),
            ("globalchat_connections_refused_total", (("reason", "per-ip"),)),
            ("globalchat_logins_total", (("kind", "guest"),)),
            ("globalchat_logins_total", (("kind", "failed"),)),
            ("globalchat_lines_dropped_total", (("reason", "rate"),)),
            ("globalchat_security_events_total", (("event", "flood"),)),
            ("globalchat_security_events_total", (("event", "registered"),)),
            ("globalchat_lines_received_total", ()),
            ("globalchat_deliveries_total", ()),
            ("globalchat_users_online", ()),
            ("globalchat_rooms", ()),
        ]}, {
            ("globalchat_connections_accepted_total", (("kind", "tcp"),)): 5,
            ("globalchat_connections_refused_total", (("reason", "per-ip"),)): 1,
            ("globalchat_logins_total", (("kind", "guest"),)): 4,
            ("globalchat_logins_total", (("kind", "failed"),)): 1,
            ("globalchat_lines_dropped_total", (("reason", "rate"),)): 31,
            ("globalchat_security_events_total", (("event", "flood"),)): 1,
            ("globalchat_security_events_total", (("event", "registered"),)): 1,
            # Ann 2, Bob 1, Flo 1 + 4 + 31, Cy 3, the guesser 2.
            ("globalchat_lines_received_total", ()): 44,
            ("globalchat_deliveries_total", ()): 2,
            ("globalchat_users_online", ()): 2,
            ("globalchat_rooms", ()): 1,
        })
