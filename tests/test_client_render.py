"""
Tests for L{globalchat.client.render}.
"""

import time

from twisted.trial.unittest import SynchronousTestCase

from globalchat.client.render import render


class RenderTests(SynchronousTestCase):
    """
    Server lines as people read them.
    """

    def test_plain(self):
        """
        Without a terminal: no colour, no time, every type readable; the
        OK closing a command is not shown; unknown lines (the greeting) are
        shown as they are.
        """
        cases = {
            "Hello Good morning !!!! ::: John": "Hello Good morning !!!! ::: John",
            "MSG #lobby <Ann> hi there": "#lobby <Ann> hi there",
            "ACT #lobby * Ann waves": "#lobby * Ann waves",
            "PRIV <Ann> @Bob psst": "[private] <Ann> to Bob: psst",
            "JOIN #dev Ann": "#dev Ann joined",
            "PART #dev Ann bye": "#dev Ann left (bye)",
            "QUIT Ann": "Ann quit",
            "NICK Ann Annie": "Ann is now known as Annie",
            "TOPIC #dev Ann code": "#dev topic: code (set by Ann)",
            "TOPIC #dev - code": "#dev topic: code",
            "ROOM #dev 2 code": "#dev (2) code",
            "WHO #dev Ann Bob": "#dev: Ann, Bob",
            "INFO Be nice.": "Be nice.",
            "ERROR no such user": "error: no such user",
        }
        for line, shown in cases.items():
            self.assertEqual(render(line), shown)
        self.assertIsNone(render("OK /who"))

    def test_terminal(self):
        """
        On a terminal: a time stamp and colours.
        """
        stamp = time.mktime((2026, 1, 2, 9, 5, 0, 0, 0, -1))
        shown = render("MSG #lobby <Ann> hi", colour=True, stamp=stamp)
        self.assertTrue(shown.startswith("09:05 "))
        self.assertIn("\x1b[", shown)
        self.assertIn("hi", shown)
