"""
Tests for L{globalchat.client.render}.
"""

import calendar
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

    def test_tagsStripped(self):
        """
        Tags are for programs: not shown.
        """
        self.assertEqual(render("@id=42;cid=k7.1 MSG #lobby <John> hi"), "#lobby <John> hi")

    def test_stored(self):
        """
        A stored message shows the local time it was sent instead of the
        time it arrived, with the date if not today, dimmed on a terminal.
        """
        sent = calendar.timegm((2026, 11, 27, 18, 10, 2, 0, 0, 0))
        local = time.strftime("%H:%M", time.localtime(sent))
        line = "@id=41 HIST 2026-11-27T18:10:02Z MSG #lobby <Ann> hi"
        self.assertEqual(render(line, now=sent + 60), f"[{local}] #lobby <Ann> hi")
        self.assertEqual(render(line, now=sent + 3 * 86400),
                         f"[{time.strftime('%Y-%m-%d', time.localtime(sent))} {local}] "
                         "#lobby <Ann> hi")
        shown = render(line, colour=True, stamp=sent + 60, now=sent + 60)
        self.assertEqual(shown, f"\x1b[2m[{local}] #lobby <Ann> hi\x1b[0m")
        self.assertEqual(render("HIST yesterday MSG #lobby <Ann> hi"),
                         "HIST yesterday MSG #lobby <Ann> hi")
