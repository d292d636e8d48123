"""
Tests for L{globalchat.chat.wire}: every line the server builds is read
back by L{wire.parse} as the parts it was built from.
"""

import calendar

from hypothesis import given, strategies as st
from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat import wire
from globalchat.chat.wire import ServerLine, command, isMessageLine, parse, parseTags

#: Names and rooms as the server accepts them: one word.
words = st.text(st.characters(categories=("L", "N")) | st.sampled_from("_-."),
                min_size=1, max_size=32)
#: Free text as the server accepts it: no control characters but tab.
texts = st.text(st.characters(blacklist_categories=("Cc", "Cs")) | st.just("\t"))

SENT = calendar.timegm((2026, 11, 27, 18, 10, 2, 0, 0, 0))


def read(data: bytes) -> ServerLine:
    """
    Parse a finished line as a client receives it: decoded, without its
    line ending.
    """
    return parse(data.decode("utf-8").removesuffix("\r\n"))


class RoundTripTests(SynchronousTestCase):
    """
    Build, then parse: the parts come back, for every kind of line.
    """

    def assertParts(self, data: bytes, kind: str, **parts) -> ServerLine:
        parsed = read(data)
        self.assertEqual(parsed, ServerLine(kind, parsed.line, **parts))
        self.assertEqual(parsed.line.encode("utf-8") + wire.EOL, data)
        return parsed

    def test_everyKind(self):
        """
        Each function's line parses to its own kind and the values it was
        given; optional parts left out come back empty.
        """
        self.assertParts(wire.message("dev", "Ann", "hi there"), "MSG",
                         room="dev", name="Ann", text="hi there")
        self.assertParts(wire.action("dev", "Ann", "waves"), "ACT",
                         room="dev", name="Ann", text="waves")
        self.assertParts(wire.private("Ann", "Bob", "psst"), "PRIV",
                         name="Ann", target="Bob", text="psst")
        self.assertParts(wire.joined("dev", "Ann"), "JOIN", room="dev", name="Ann")
        self.assertParts(wire.parted("dev", "Ann", "see you"), "PART",
                         room="dev", name="Ann", text="see you")
        self.assertParts(wire.parted("dev", "Ann"), "PART", room="dev", name="Ann")
        self.assertParts(wire.quit("Ann", "connection closed"), "QUIT",
                         name="Ann", text="connection closed")
        self.assertParts(wire.quit("Ann"), "QUIT", name="Ann")
        self.assertParts(wire.renamed("Ann", "Annie"), "NICK", name="Ann", target="Annie")
        self.assertParts(wire.topic("dev", "Ann", "all things code"), "TOPIC",
                         room="dev", name="Ann", text="all things code")
        self.assertParts(wire.topic("dev", "-", "code"), "TOPIC", room="dev", name="-", text="code")
        self.assertParts(wire.roomInfo("dev", 2, "code"), "ROOM", room="dev", count=2, text="code")
        self.assertParts(wire.roomInfo("dev", 1, ""), "ROOM", room="dev", count=1)
        self.assertParts(wire.who("dev", ["Ann", "Bob"]), "WHO", room="dev", names=("Ann", "Bob"))
        self.assertParts(wire.who("dev", []), "WHO", room="dev")
        self.assertParts(wire.auth("John"), "AUTH", name="John")
        self.assertParts(wire.info("Be nice."), "INFO", text="Be nice.")
        self.assertParts(wire.info(""), "INFO")
        self.assertParts(wire.ok("who"), "OK", text="who")
        self.assertParts(wire.error("no such user"), "ERROR", text="no such user")

    def test_greeting(self):
        """
        The greeting is the operator's text exactly: no kind of its own,
        whatever it says.
        """
        for template in (wire.DEFAULT_GREETING, "MSG from the operator, {name}", "OK {name}"):
            self.assertParts(wire.greeting(template, "John"), "")

    def test_tagged(self):
        """
        Tags come back as a mapping; the rest of the line is unchanged.
        """
        parsed = read(wire.tagged("id=42;cid=k7.1", wire.message("lobby", "John", "hi")))
        self.assertEqual(parsed.tags, {"id": "42", "cid": "k7.1"})
        self.assertEqual((parsed.kind, parsed.line, parsed.text),
                         ("MSG", "MSG #lobby <John> hi", "hi"))

    def test_history(self):
        """
        A stored message shown again is the message, with the time it was
        sent (to the second) and its tags.
        """
        for data, kind in [(wire.message("lobby", "Ann", "hi"), "MSG"),
                           (wire.action("lobby", "Ann", "waves"), "ACT"),
                           (wire.private("Ann", "Bob", "psst"), "PRIV")]:
            parsed = read(wire.tagged("id=41", wire.history(SENT + 0.75, data)))
            live = read(data)
            self.assertEqual((parsed.kind, parsed.name, parsed.text), (kind, live.name, live.text))
            self.assertEqual((parsed.sent, parsed.tags), (SENT, {"id": "41"}))
            self.assertIsNone(live.sent)

    @given(words, words, words, texts)
    def test_anyText(self, room, name, other, text):
        """
        Free text comes back exactly, spaces and all, after any names.
        """
        self.assertParts(wire.message(room, name, text), "MSG", room=room, name=name, text=text)
        self.assertParts(wire.action(room, name, text), "ACT", room=room, name=name, text=text)
        self.assertParts(wire.private(name, other, text), "PRIV",
                         name=name, target=other, text=text)
        self.assertParts(wire.topic(room, name, text), "TOPIC", room=room, name=name, text=text)
        self.assertParts(wire.error(text), "ERROR", text=text)


class MalformedTests(SynchronousTestCase):
    """
    Lines no globalchat server sends.
    """

    def test_noKnownKind(self):
        """
        A line not of the shape its first word promises is of no known
        kind and keeps its text, to be shown as it is.
        """
        for line in ["MSG #lobby", "MSG lobby <Ann> hi", "ACT #lobby Ann waves",
                     "JOIN #dev Ann extra", "NICK Ann", "ROOM #dev many", "OK who",
                     "ERROR", "HIST yesterday MSG #lobby <Ann> hi",
                     "HIST 2026-11-27T18:10:02Z OK /who", "HELLO there"]:
            self.assertEqual(parse(line), ServerLine("", line), line)

    @given(st.text())
    def test_neverRaises(self, line):
        """
        Any text parses to something.
        """
        self.assertIsInstance(parse(line), ServerLine)


class ClientLineTests(SynchronousTestCase):
    """
    Tags and the kinds of lines a client sends.
    """

    def test_parseTags(self):
        """
        A first word starting with C{@} is tags; a key may have no value.
        """
        self.assertEqual(parseTags("@id=42;cid=k7.1 MSG #lobby <John> hi"),
                         ({"id": "42", "cid": "k7.1"}, "MSG #lobby <John> hi"))
        self.assertEqual(parseTags("@tags John"), ({"tags": ""}, "John"))
        self.assertEqual(parseTags("MSG #lobby <Ann> @you"), ({}, "MSG #lobby <Ann> @you"))

    def test_command(self):
        """
        A command's word is lower-cased; chat lines, C{//} ones included,
        have none.
        """
        self.assertEqual(command("/JOIN dev"), "join")
        self.assertEqual(command("/who"), "who")
        self.assertIsNone(command("hello"))
        self.assertIsNone(command("//etc"))

    def test_isMessageLine(self):
        """
        The lines the server stores (chat lines, // lines, /me, /msg) take
        a client id; other commands do not.
        """
        for line in ["hello", "//etc", "/me waves", "/MSG ann hi", "@cid=k.1 /me waves"]:
            self.assertTrue(isMessageLine(line), line)
        for line in ["/who", "/join dev", "/history", "/message"]:
            self.assertFalse(isMessageLine(line), line)
