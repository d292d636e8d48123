"""
Tests for L{globalchat.chat.text}: the checks every line and every number
a client sends go through.
"""

from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat.errors import ChatError
from globalchat.chat.text import checkText, isCount, parseCount


class TextTests(SynchronousTestCase):
    def test_controlCharacters(self):
        """
        Escapes and other control characters are refused; a tab is not.
        """
        for bad in ("\x1b[2J", "a\rb", "\x00", "\x85", "\x7f"):
            self.assertRaises(ChatError, checkText, bad)
        checkText("a\tb ünïcödé")

    def test_counts(self):
        """
        Only ASCII digits make a number: other scripts' digits and
        superscripts, which C{str.isdigit} accepts and C{int} may not,
        are refused.
        """
        self.assertEqual([isCount(t) for t in ("0", "42", "007")], [True] * 3)
        for bad in ("", "²", "٣", "１２", "-1", "+1", " 1", "1e3", "1" * 19):
            self.assertFalse(isCount(bad), bad)

    def test_parseCount(self):
        """
        A number that is not one is answered with the caller's words.
        """
        self.assertEqual(parseCount("12", "no"), 12)
        e = self.assertRaises(ChatError, parseCount, "²", "resume= needs a message id")
        self.assertEqual(str(e), "resume= needs a message id")


class NameFoldingTests(SynchronousTestCase):
    def test_precis(self):
        """
        Names are compared after PRECIS UsernameCaseMapped: case and width
        do not make another name; characters PRECIS refuses (compatibility
        forms such as a superscript) make no valid name.
        """
        from globalchat.chat import names

        self.assertEqual({names.key(n) for n in ("John", "JOHN", "Ｊｏｈｎ")}, {"john"})
        self.assertEqual(names.key("ΣΑΣ"), names.key("σας"))
        for bad in ("x²", "ǅemal", "ﬁsh"):
            self.assertRaises(ChatError, names.checkName, bad)
        self.assertEqual(names.checkName("Zoë_2.0-x"), "Zoë_2.0-x")
