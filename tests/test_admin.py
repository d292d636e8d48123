"""
Tests for L{globalchat.admin}: C{globalchat-admin} run on a data directory
made with the server's own store.
"""

import io
import sys
from pathlib import Path

from twisted.internet.selectreactor import SelectReactor
from twisted.internet.task import react
from twisted.internet.defer import ensureDeferred
from twisted.trial.unittest import SynchronousTestCase, TestCase

from globalchat import admin
from globalchat.auth import hashPassword, verifyPassword
from globalchat.cluster.store import RedisStore
from globalchat.store.accounts import Account, Ban
from globalchat.store.sqlite import MessageStore

#: 2026-11-27 12:00 UTC.
NOON = 1795780800.0


def withStore(path: Path, work):
    """
    Run C{work(store)} on the SQLite store at C{path}, on a reactor of its
    own, as the server and the tool each do; its result.
    """
    results = []

    async def run(reactor):
        store = MessageStore(reactor, str(path))
        store.load()
        store.start()
        try:
            results.append(await work(store))
        finally:
            await store.close()

    try:
        react(run, _reactor=SelectReactor())
    except SystemExit as e:
        if e.code:
            raise
    return results[0]


class AdminTests(SynchronousTestCase):
    """
    Each subcommand, through L{admin.main}.
    """

    def setUp(self):
        self.dataDir = Path(self.mktemp())
        self.dataDir.mkdir()
        self.database = self.dataDir / "history.sqlite3"
        self.stdout, self.stderr = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", self.stdout)
        self.patch(sys, "stderr", self.stderr)
        self.patch(admin, "react", lambda main: react(main, _reactor=SelectReactor()))

        async def fill(store):
            for name, operator in [("Bea", False), ("Cy", True)]:
                await store.createAccount(Account(name.lower(), name, name.lower(),
                                                  hashPassword("correct-horse"), NOON, operator))
            await store.addBan(Ban("mallory", "name", None, "guessing", "cy", NOON))

        withStore(self.database, fill)

    def command(self, *argv, input=""):
        """
        Run the command; its exit status, standard output and error.
        """
        self.patch(sys, "stdin", io.StringIO(input))
        try:
            admin.main(["--data-dir", str(self.dataDir), *argv])
            code = 0
        except SystemExit as e:
            code = e.code
        return code, self.stdout.getvalue(), self.stderr.getvalue()

    def account(self, key):
        return withStore(self.database, lambda store: store.account(key))

    def test_accounts(self):
        """
        The accounts, with when they were registered and whether they are
        operators; never a hash.
        """
        code, out, err = self.command("accounts")
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out.splitlines(), [
            "NAME  REGISTERED  OPERATOR",
            "Bea   2026-11-27  no",
            "Cy    2026-11-27  yes",
        ])
        self.assertNotIn("scrypt", out)

    def test_passwd(self):
        """
        A new password from standard input replaces the old one, whatever
        the case of the name given.
        """
        code, out, _ = self.command("passwd", "BEA", input="new-password\n")
        self.assertEqual((code, out), (0, "the password of Bea is changed\n"))
        self.assertTrue(verifyPassword(self.account("bea").passwordHash, "new-password"))

    def test_passwdWeak(self):
        """
        A password of fewer than 8 characters changes nothing.
        """
        code, _, err = self.command("passwd", "Bea", input="short\n")
        self.assertEqual((code, err), (
            1, "globalchat-admin: a password needs at least 8 characters; nothing changed\n"))
        self.assertTrue(verifyPassword(self.account("bea").passwordHash, "correct-horse"))

    def test_delete(self):
        """
        delete removes the account; a name that is not one is one line and
        exit status 1.
        """
        self.assertEqual(self.command("delete", "bea")[:2],
                         (0, "the account Bea is deleted, with its certificates\n"))
        self.assertIsNone(self.account("bea"))
        code, _, err = self.command("delete", "bea")
        self.assertEqual((code, err), (1, "globalchat-admin: no account called bea\n"))

    def test_opDeop(self):
        """
        op and deop set the operator flag, and say when the server sees it.
        """
        code, out, _ = self.command("op", "bea")
        self.assertEqual((code, out),
                         (0, "Bea is an operator (a running server sees it when it next starts)\n"))
        self.assertTrue(self.account("bea").operator)
        self.command("deop", "Cy")
        self.assertFalse(self.account("cy").operator)

    def test_bansAndUnban(self):
        """
        bans lists the bans; unban lifts one by its mask, in any case.
        """
        code, out, _ = self.command("bans")
        self.assertEqual(out.splitlines(), ["MASK     KIND  UNTIL  SET BY  REASON",
                                            "mallory  name  ever   cy      guessing"])
        self.stdout.truncate(0)
        self.stdout.seek(0)
        code, out, _ = self.command("unban", "Mallory")
        self.assertEqual((code, out), (0, "the ban of mallory is lifted (a running server "
                                          "sees it when it next starts)\n"))
        self.assertEqual(withStore(self.database, lambda store: store.bans(NOON)), [])
        code, _, err = self.command("unban", "Mallory")
        self.assertEqual((code, err), (1, "globalchat-admin: no ban of Mallory\n"))

    def test_missingDatabase(self):
        """
        A data directory without a database is one line and exit status
        1, and no database is made.
        """
        self.dataDir = Path(self.mktemp())
        code, _, err = self.command("accounts")
        self.assertEqual((code, err), (1, f"globalchat-admin: no database at "
                                          f"{self.dataDir / 'history.sqlite3'}: give the "
                                          "server's --data-dir\n"))
        self.assertFalse(self.dataDir.exists())

    def test_unreadableDatabase(self):
        """
        A file that is not a database is one line naming it, exit status 1.
        """
        self.database.unlink()
        for suffix in ("-wal", "-shm"):
            Path(str(self.database) + suffix).unlink(missing_ok=True)
        self.database.write_bytes(b"not a database" * 100)
        code, _, err = self.command("accounts")
        self.assertEqual(code, 1)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith(f"globalchat-admin: cannot use the history database "
                                       f"{self.database}: "), err)

    def test_usage(self):
        """
        A mistyped subcommand is the one-line usage error of every tool.
        """
        code, _, err = self.command("acounts")
        self.assertEqual(code, 2)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.endswith("(see globalchat-admin --help)\n"), err)


class ClusterAdminTests(TestCase):
    """
    C{globalchat-admin --cluster URL}: the same commands on a cluster's
    store in a real redis-server.
    """

    async def admin(self, *args):
        from twisted.internet.utils import getProcessOutputAndValue

        from tests.processes import command, environment

        tool = command("globalchat-admin", "globalchat.admin")
        out, err, code = await getProcessOutputAndValue(
            tool[0], [*tool[1:], "--cluster", self.server.url, *args], env=environment())
        return code, out.decode(), err.decode()

    def test_bansAndUnban(self):
        """
        bans lists the cluster's bans, unban lifts one; the password of
        Redis is never shown.
        """
        from tests.redisserver import RedisServer, connect

        async def go():
            self.server = RedisServer(self, password="s3cret-pw")
            store = RedisStore(await connect(self, self.server))
            await store.addBan(Ban("mallory", "name", None, "guessing", "cy", NOON))
            code, out, err = await self.admin("bans")
            self.assertEqual((code, out.splitlines()), (0, [
                "MASK     KIND  UNTIL  SET BY  REASON", "mallory  name  ever   cy      guessing"]))
            code, out, err = await self.admin("unban", "Mallory")
            self.assertEqual((code, out), (0, "the ban of mallory is lifted (running nodes see "
                                              "a ban lifted within seconds, an operator when "
                                              "they next start)\n"))
            self.assertEqual(await store.bans(NOON), [])
            self.server.stop()
            code, out, err = await self.admin("bans")
            self.assertEqual(code, 1)
            self.assertEqual(err, f"globalchat-admin: cannot reach Redis at redis://127.0.0.1:"
                                  f"{self.server.port}/0: Connection refused (is redis-server "
                                  "running there? start it, or correct --cluster)\n")
        return ensureDeferred(go())
