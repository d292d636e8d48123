# -*- test-case-name: tests.test_admin -*-
"""
C{globalchat-admin}: the accounts, operators and bans in a server's store,
for the person who runs it.

It opens the server's own database (C{DATA-DIR/history.sqlite3}) with the
same L{MessageStore} the server uses, so it reads and writes exactly what
the server does, through the same schema checks and migrations.  It is
meant for a stopped server; SQLite's WAL lets it run beside a running one
too, which sees account changes at once (accounts are read at each login)
but reads operators and bans only when it starts.  Passwords are read as
C{globalchat-passwd} reads them and stored only as hashes; no command
shows a hash.  With C{--cluster URL} it works on a cluster's store in
Redis instead, beside the running nodes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Awaitable, Callable

from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IReactorCore
from twisted.internet.task import react

from globalchat.auth import askNewPassword, hashPassword
from globalchat.chat import names
from globalchat.chat.errors import ChatError
from globalchat.commandline import ArgumentParser
from globalchat.identity.accounts import checkPassword
from globalchat.store.accounts import Account, IAccountStore
from globalchat.store.interface import StoreError
from globalchat.store.sqlite import MessageStore

PROGRAM = "globalchat-admin"

#: Said after every change the server reads only when it starts.
_AT_START = "(a running server sees it when it next starts)"

#: When the nodes of a cluster see a change (they read the bans again
#: every few seconds, the operators when they start or reconnect).
_ON_CLUSTER = "(running nodes see a ban lifted within seconds, an operator when they next start)"


class AdminError(Exception):
    """
    The command cannot be carried out; the message says why, in one line.
    """


def _day(seconds: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(seconds))


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """
    C{rows} (a header first) in aligned columns.
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in rows]


def _newPassword() -> str:
    """
    The new password: asked twice without echo on a terminal, one line on
    standard input otherwise (for scripts), and strong enough for an
    account.

    @raise AdminError: if it is not.
    """
    try:
        if sys.stdin.isatty():
            password = askNewPassword("New password: ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        checkPassword(password)
    except (ValueError, ChatError) as e:
        raise AdminError(f"{e}; nothing changed") from None
    return password


class Admin:
    """
    The subcommands, on an open store; each returns the lines to print.
    """

    def __init__(self, store: IAccountStore, now: Callable[[], float] = time.time,
                 seen: str = _AT_START) -> None:
        """
        @param seen: when a running server sees a change, as told.
        """
        self._store = store
        self._now = now
        self._seen = seen

    async def _account(self, name: str) -> Account:
        account = await self._store.account(names.key(name))
        if account is None:
            raise AdminError(f"no account called {name}")
        return account

    async def accounts(self) -> list[str]:
        """
        Every account, with the day it was registered and whether it is
        an operator: what an operator needs to decide, and no hash.
        """
        found = await self._store.accounts()
        if not found:
            return ["no accounts"]
        return _table([("NAME", "REGISTERED", "OPERATOR")] + [
            (account.display, _day(account.created), "yes" if account.operator else "no")
            for account in found])

    async def passwd(self, name: str) -> list[str]:
        """
        Give the account C{name} a new password, for an owner who lost it.
        """
        account = await self._account(name)
        await self._store.setPassword(account.key, hashPassword(_newPassword()))
        return [f"the password of {account.display} is changed"]

    async def delete(self, name: str) -> list[str]:
        """
        Delete the account C{name}: its name is free again, and its
        certificates log in to nothing.
        """
        account = await self._account(name)
        await self._store.deleteAccount(account.key)
        return [f"the account {account.display} is deleted, with its certificates"]

    async def op(self, name: str) -> list[str]:
        """
        Make the account C{name} an operator.
        """
        account = await self._account(name)
        await self._store.setOperator(account.key, True)
        return [f"{account.display} is an operator {self._seen}"]

    async def deop(self, name: str) -> list[str]:
        """
        Make the account C{name} no longer an operator.
        """
        account = await self._account(name)
        await self._store.setOperator(account.key, False)
        return [f"{account.display} is no longer an operator {self._seen}"]

    async def bans(self) -> list[str]:
        """
        The bans in force (the store forgets those that ended).
        """
        found = await self._store.bans(self._now())
        if not found:
            return ["no bans"]
        return _table([("MASK", "KIND", "UNTIL", "SET BY", "REASON")] + [
            (ban.mask, ban.kind, "ever" if ban.until is None else _day(ban.until),
             ban.setBy, ban.reason) for ban in found])

    async def unban(self, mask: str) -> list[str]:
        """
        Lift the ban of C{mask}, typed as the operator typed it when banning.
        """
        # Account and name masks are kept as name keys; addresses as given.
        for candidate in dict.fromkeys([mask, names.key(mask)]):
            if await self._store.removeBan(candidate):
                return [f"the ban of {candidate} is lifted {self._seen}"]
        raise AdminError(f"no ban of {mask}")


def _parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=PROGRAM,
        description="Manage the accounts, operators and bans of a globalchat server, "
                    "in its store (DATA-DIR/history.sqlite3). Meant for a stopped "
                    "server: a running one sees account changes at once, but operators "
                    "and bans only when it next starts. --cluster URL: a cluster's store "
                    "in Redis instead.",
    )
    parser.add_argument("--data-dir", metavar="DIR", default="globalchat-data",
                        help="the server's --data-dir (default globalchat-data)")
    parser.add_argument("--cluster", metavar="URL",
                        help="instead, the store of the cluster whose Redis is at URL "
                             "(redis://[:PASSWORD@]HOST:PORT/DB, as the nodes were given)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("accounts", help="list the accounts: name, registered, operator")
    for name, help in [("passwd", "set an account's password (asked twice on a terminal, "
                                  "one line on standard input otherwise)"),
                       ("delete", "delete an account and its certificates"),
                       ("op", "make an account an operator"),
                       ("deop", "make an account no longer an operator")]:
        commands.add_parser(name, help=help).add_argument("name", metavar="NAME")
    commands.add_parser("bans", help="list the bans in force")
    commands.add_parser("unban", help="lift a ban").add_argument("mask", metavar="MASK")
    return parser


async def _runOnCluster(reactor: IReactorCore, url: str,
                        command: Callable[[Admin], Awaitable[list[str]]]) -> None:
    """
    Run C{command} on the store of the cluster at C{url} and print its lines.
    """
    from globalchat.cluster.oneshot import Unusable, clusterRedis
    from globalchat.cluster.store import RedisStore

    try:
        async with clusterRedis(reactor, url) as (redis, _):
            lines = await command(Admin(RedisStore(redis), seen=_ON_CLUSTER))
    except Unusable as e:
        raise AdminError(str(e)) from None
    for line in lines:
        print(line)


async def _run(reactor: IReactorCore, path: Path,
               command: Callable[[Admin], Awaitable[list[str]]]) -> None:
    """
    Open the store at C{path}, run C{command} on it, print its lines, and
    close the store whatever happened.
    """
    store = MessageStore(reactor, str(path))
    try:
        store.load()
    except StoreError as e:
        raise AdminError(str(e)) from None
    store.start()
    try:
        lines = await command(Admin(store))
    finally:
        await store.close()
    for line in lines:
        print(line)


def main(argv: list[str] | None = None) -> None:
    """
    Entry point of C{globalchat-admin}.
    """
    options = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    path = Path(options.data_dir) / "history.sqlite3"
    argument = getattr(options, "name", None) or getattr(options, "mask", None)
    method = getattr(Admin, options.command)

    def command(admin: Admin) -> Awaitable[list[str]]:
        return method(admin) if argument is None else method(admin, argument)

    def failed(failure):
        failure.trap(AdminError)
        sys.stderr.write(f"{PROGRAM}: {failure.value}\n")
        raise SystemExit(1)

    if options.cluster is not None:
        def run(reactor: IReactorCore) -> Awaitable[None]:
            return _runOnCluster(reactor, options.cluster, command)
    elif not path.is_file():
        # SQLite would make an empty database: say what is missing instead.
        sys.stderr.write(f"{PROGRAM}: no database at {path}: give the server's --data-dir\n")
        raise SystemExit(1)
    else:
        def run(reactor: IReactorCore) -> Awaitable[None]:
            return _run(reactor, path, command)
    react(lambda reactor: ensureDeferred(run(reactor)).addErrback(failed))
