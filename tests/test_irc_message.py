"""
Tests for L{globalchat.irc.message}: IRC messages taken apart from bytes
and put together so that no parameter can end a line.
"""

from twisted.trial.unittest import SynchronousTestCase

from globalchat.irc.message import (
    MAX_BODY,
    BadMessage,
    build,
    escapeTag,
    parse,
    splitText,
    unescapeTag,
)


class ParseTests(SynchronousTestCase):
    def test_parts(self):
        """
        Tags, source, command and parameters are split, the trailing
        parameter kept whole with its spaces.
        """
        message = parse(b"@label=a1;+draft/x=y\\sz :nick!u@h privmsg #room :hello  there")
        self.assertEqual(message.tags, {"label": "a1", "+draft/x": "y z"})
        self.assertEqual(message.source, "nick!u@h")
        self.assertEqual(message.command, "PRIVMSG")
        self.assertEqual(message.params, ["#room", "hello  there"])

    def test_spacesAndEmptyTrailing(self):
        """
        Runs of spaces between parameters count as one; an empty trailing
        parameter is a parameter.
        """
        self.assertEqual(parse(b"USER  a  0 * :").params, ["a", "0", "*", ""])

    def test_invalidUTF8(self):
        """
        A parameter that is not UTF-8 spoils only its message, whose
        command is still known.
        """
        with self.assertRaises(BadMessage) as caught:
            parse(b"PRIVMSG #a :caf\xe9")
        self.assertEqual((caught.exception.code, caught.exception.command),
                         ("invalid-utf8", "PRIVMSG"))

    def test_tooLong(self):
        """
        512 bytes (CRLF included) is the most without tags; tags do not
        count against it.
        """
        body = b"PRIVMSG #a :" + b"x" * (MAX_BODY - 2 - 12)
        self.assertEqual(parse(b"@" + b"t" * 1000 + b" " + body).command, "PRIVMSG")
        with self.assertRaises(BadMessage) as caught:
            parse(body + b"x")
        self.assertEqual(caught.exception.code, "too-long")

    def test_empty(self):
        """
        A line of nothing but spaces, or only tags, is no message.
        """
        for raw in (b"", b"   ", b"@a=b"):
            self.assertRaises(BadMessage, parse, raw)

    def test_tagEscapes(self):
        """
        Tag values escape C{;}, space, backslash, CR and LF, both ways.
        """
        value = "a;b c\\d\r\ne"
        self.assertEqual(unescapeTag(escapeTag(value)), value)
        self.assertEqual(unescapeTag("x\\"), "x")


class BuildTests(SynchronousTestCase):
    def test_trailing(self):
        """
        The last parameter is trailing when it has to be or is text.
        """
        self.assertEqual(build("JOIN", "#a", source="n!u@h"), b":n!u@h JOIN #a\r\n")
        self.assertEqual(build("PRIVMSG", "#a", "hi"), b"PRIVMSG #a :hi\r\n")
        self.assertEqual(build("QUIT", "bye"), b"QUIT :bye\r\n")

    def test_noInjection(self):
        """
        A parameter holding CR, LF or NUL stays one parameter of one line:
        text from elsewhere can never start a command.
        """
        line = build("PRIVMSG", "#a", "hi\r\n:evil!e@e PRIVMSG #a :owned\0", source="n!u@h")
        self.assertEqual(line.count(b"\r\n"), 1)
        self.assertEqual(parse(line[:-2]).params, ["#a", "hi  :evil!e@e PRIVMSG #a :owned "])
        middle = build("KICK", "#a b", "x")
        self.assertEqual(parse(middle[:-2]).params, ["#ab", "x"])

    def test_tags(self):
        """
        Tags are escaped and sent before the source.
        """
        self.assertEqual(build("PRIVMSG", "#a", "hi", tags={"label": "a b", "x": ""}),
                         b"@label=a\\sb;x PRIVMSG #a :hi\r\n")

    def test_cutToFit(self):
        """
        A message too long for 512 bytes is cut at a character boundary.
        """
        line = build("PRIVMSG", "#a", "é" * 600, source="n!u@h")
        self.assertIn(len(line), (MAX_BODY - 1, MAX_BODY))
        text = parse(line[:-2]).params[1]
        self.assertEqual(text, "é" * len(text))

    def test_split(self):
        """
        Long text is split between words into pieces that fit.
        """
        text = " ".join(["word"] * 200)
        pieces = splitText(text, 100)
        self.assertTrue(all(len(p.encode()) <= 100 for p in pieces))
        self.assertEqual(" ".join(pieces), text)
        self.assertEqual(splitText("short", 100), ["short"])
