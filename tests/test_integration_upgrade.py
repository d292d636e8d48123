"""
The real server on a history written by the release before accounts
(schema 3): it upgrades the file in place and keeps what was in it.
"""

import shutil
import sqlite3
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.processes import RawClient, Server

FIXTURE = Path(__file__).parent / "fixtures" / "history-v3.sqlite3"


class UpgradeTests(SynchronousTestCase):
    def dataDir(self) -> Path:
        directory = Path(self.mktemp()).resolve()
        directory.mkdir()
        shutil.copy(FIXTURE, directory / "history.sqlite3")
        return directory

    def test_historyKept(self):
        """
        The old file opens, is upgraded (to schema 4), and a joiner sees
        the room's old messages; accounts work in the same file.
        """
        directory = self.dataDir()
        server = Server(self, "--port", "tcp:0:interface=127.0.0.1", dataDir=directory)
        raw = RawClient(self, server.ports[0])
        raw.send(b"John\n")
        self.assertEqual(raw.readLines(4), [
            "Hello Good morning !!!! ::: John",
            "JOIN #lobby John",
            "HIST 1970-01-01T00:16:40Z MSG #lobby <Ann> hello lobby",
            "HIST 1970-01-01T00:16:41Z ACT #lobby * Bob waves",
        ])
        raw.send(b"/register long-enough\n")
        self.assertEqual(raw.readLines(2)[-1], "OK /register")
        server.stop()
        with sqlite3.connect(directory / "history.sqlite3") as db:
            self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], 4)
            self.assertEqual(db.execute("SELECT display FROM accounts").fetchall(), [("John",)])

    def test_keptMessageWithAccountsOff(self):
        """
        With --accounts off, a private message kept for a name before the
        upgrade still reaches that name at its next login.
        """
        server = Server(self, "--port", "tcp:0:interface=127.0.0.1", "--accounts", "off",
                        dataDir=self.dataDir())
        raw = RawClient(self, server.ports[0])
        raw.send(b"Bob\n")
        self.assertIn("HIST 1970-01-01T00:16:44Z PRIV <Ann> @Bob kept while away",
                      raw.readLines(5))
