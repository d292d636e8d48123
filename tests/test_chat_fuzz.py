"""
Random lines, tags and command arguments against the I/O-free core: no
exception escapes, what a client can make the server hold stays bounded,
and every line gets exactly one closing answer.
"""

from hypothesis import HealthCheck, given, settings, strategies as st
from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat.hub import Hub
from globalchat.chat.wire import parse
from tests.chatfakes import Recorder, Users, connect

WORDS = ["/join", "/part", "/rooms", "/who", "/msg", "/me", "/nick", "/topic", "/history",
         "/help", "/HELP", "/unknown", "//", "/", "@tags", "@id=x.1", "@id=", "@resume=3",
         "@resume=²", "@", "hello"]
ARGUMENTS = ["#a", "a", "#b", "b", "²", "٣", "10", "0", "1001", "-1", "Bob", "bob", "ВОВ",
             "\u202e", "\u2028", "\x1b[2J", "#", "##", "x" * 40, "@id=1", "/msg"]

lines = st.builds(
    lambda word, arguments: " ".join([word, *arguments]),
    st.sampled_from(WORDS),
    st.lists(st.sampled_from(ARGUMENTS) | st.text(max_size=10), max_size=3),
) | st.text(max_size=30)

GREETING = "Hello Good morning !!!! ::: "


def closing(line: str) -> bool:
    """
    Whether a line the fuzzed client gets closes the answer to one of its
    lines: nobody else in its rooms speaks, so every live message is its own.
    """
    parsed = parse(line)
    if parsed.sent is not None:
        return False
    return line.startswith(GREETING) or parsed.kind in ("OK", "ERROR", "AUTH", "MSG",
                                                         "ACT", "PRIV")


class FuzzTests(SynchronousTestCase):
    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(lines, min_size=1, max_size=25))
    def test_oneAnswerEach(self, sent):
        """
        Each non-blank line gets exactly one closing answer (until /quit),
        nothing raises or is logged as an error, and rooms stay within
        their bounds.
        """
        hub = Hub(roomsPerUser=3, maxRooms=4)
        Users(hub).login("Bob")
        client = Recorder()
        session = connect(hub, client)
        for line in ["Fuzzer", *sent]:
            session.lineReceived(line)
            received = client.lines()
            if session.gone:
                break
            expected = 0 if not line.strip() and session.name is not None else 1
            answers = [r for r in received if closing(r)]
            self.assertEqual(len(answers), expected, (line, received))
            self.assertLessEqual(len(session.rooms), 3)
            self.assertLessEqual(len(hub.bus.rooms()), 4)
        self.assertEqual(self.flushLoggedErrors(), [])
