# -*- test-case-name: tests.test_chat_accounts -*-
"""
The commands of accounts: registering a name, its password, the
certificates that log in to it, and what others may know of a name.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.logger import Logger

from globalchat.chat import wire
from globalchat.chat.commands import usageError
from globalchat.chat.errors import ChatError
from globalchat.tls import certificateDigest

if TYPE_CHECKING:
    from globalchat.chat.hub import Hub
    from globalchat.chat.session import Session
    from globalchat.identity.accounts import Accounts

USAGE = {
    "register": ("/register PASSWORD", "make your name an account: only you can use it "
                                       "from now on (8 characters or more)"),
    "passwd": ("/passwd OLD NEW", "change your account's password"),
    "unregister": ("/unregister PASSWORD", "drop your account; your name is free again"),
    "whois": ("/whois NAME", "account or guest, online or not, since when, idle for how long"),
    "cert": ("/cert add [FINGERPRINT] | list | del FINGERPRINT",
             "the TLS client certificates that log in to your account (add alone: the one "
             "you are using)"),
}


class AccountCommands:
    """
    The account commands, bound to one hub and its accounts.
    """

    USAGE = USAGE
    log = Logger()

    def __init__(self, hub: Hub, accounts: Accounts) -> None:
        self._hub = hub
        self._accounts = accounts

    def _account(self, session: Session) -> str:
        if session.account is None:
            raise ChatError("you are a guest: /register PASSWORD first")
        return session.account

    def _answer(self, session: Session, d: Deferred, command: str) -> None:
        session.waitFor(d, wire.ok(command))

    def cmd_register(self, session: Session, arguments: str) -> None:
        if not arguments:
            raise usageError(USAGE, "register")
        if session.account is not None:
            raise ChatError(f"{session.name} is your account already")
        name = session.name

        def registered(account) -> None:
            session.registered(account.key)
            self._hub.registered(session)
            self.log.info("{peer} registered {name}", peer=session.connection.peer, name=name,
                          security="registered")
            session.answer(wire.info(f"{name} is your account now: log in with it and your "
                                     "password from now on"))

        self._answer(session, self._accounts.register(name, arguments).addCallback(registered),
                     "register")

    def cmd_passwd(self, session: Session, arguments: str) -> None:
        words = arguments.split()
        if len(words) != 2:
            raise usageError(USAGE, "passwd")
        key = self._account(session)
        d = self._accounts.changePassword(key, *words)
        d.addCallback(lambda _: self.log.info("{name} changed its password", name=session.name,
                                              security="password-changed"))
        self._answer(session, d, "passwd")

    def cmd_unregister(self, session: Session, arguments: str) -> None:
        if not arguments or " " in arguments:
            raise usageError(USAGE, "unregister")
        key = self._account(session)

        def dropped(_: None) -> None:
            session.registered(None)
            self._hub.registered(session)
            self.log.info("{name} dropped its account", name=session.name, security="unregistered")
            session.answer(wire.info(f"{session.name} is no longer an account"))

        self._answer(session, self._accounts.unregister(key, arguments).addCallback(dropped),
                     "unregister")

    def cmd_whois(self, session: Session, arguments: str) -> None:
        if not arguments or " " in arguments:
            raise usageError(USAGE, "whois")
        self._answer(session, ensureDeferred(self._whois(session, arguments)), "whois")

    async def _whois(self, session: Session, name: str) -> None:
        online = self._hub.bus.holder(name)
        # Online on another node of a cluster, if not here.
        elsewhere = await self._hub.bus.online(name) if online is None else None
        account = await self._accounts.find(name)
        if online is None and elsewhere is None and account is None:
            raise ChatError(f"no one called {name} is online or registered")
        shown = online.name if online is not None else elsewhere or account.display
        if account is not None:
            since = time.strftime("%Y-%m-%d", time.gmtime(account.created))
            what = f"an account, registered {since}"
        else:
            what = "a guest"
        if elsewhere is not None:
            where = "online on another server of this chat"
        elif online is None:
            where = "not online"
        else:
            where = f"online, idle {online.idle():.0f} s"
            if self._hub.moderation is not None and self._hub.moderation.isOperator(session):
                where += f", from {online.connection.peer}"
            rooms = [room.name for room in online.rooms if room in session.rooms]
            if rooms:
                where += ", with you in " + " ".join(f"#{room}" for room in rooms)
        session.answer(wire.info(f"{shown} is {what}; {where}"))

    def cmd_cert(self, session: Session, arguments: str) -> None:
        action, _, fingerprint = arguments.partition(" ")
        fingerprint = fingerprint.strip()
        key = self._account(session)
        if action == "list" and not fingerprint:
            self._answer(session, self._accounts.store.certificates(key).addCallback(
                lambda found: [session.answer(wire.info(f"certificate SHA256:{f.upper()}"))
                               for f in found] or None), "cert")
        elif action == "add":
            if not fingerprint:
                certificate = session.connection.certificate
                if certificate is None:
                    raise ChatError("you are not using a certificate: /cert add FINGERPRINT")
                fingerprint = certificateDigest(certificate)
            self._answer(session, self._accounts.bind(key, fingerprint), "cert")
        elif action == "del" and fingerprint:
            self._answer(session, self._accounts.unbind(key, fingerprint), "cert")
        else:
            raise usageError(USAGE, "cert")
