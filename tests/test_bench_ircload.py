"""
The IRC-beside-line scenario of the benchmark (C{bench.ircload}) at its
smoke size: every line said on either side reaches every client of both
kinds, once and intact.
"""

from twisted.trial.unittest import TestCase

from tests.test_bench import _rows, _smoke


class IrcBesideTests(TestCase):
    timeout = 60

    def test_everyLineReachesBothKinds(self) -> None:
        """
        5 line and 5 IRC clients, 1 sender of each kind sending 20 lines:
        a line client gets all 40 (its own back too), an IRC client the 20
        or 40 that are not its own.
        """
        output = _smoke("--scenario", "irc", "--servers", "globalchat")
        rows = {row["kind"]: row for row in _rows(output, "9. IRC beside", "globalchat")}
        self.assertEqual(
            {kind: (row["joined"], row["deliveries"], row["lost"], row["corrupted"])
             for kind, row in rows.items()},
            {"line": ("5", "200", "0", "0"), "IRC": ("5", "180", "0", "0")}, output)
