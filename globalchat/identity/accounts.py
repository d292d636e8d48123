# -*- test-case-name: tests.test_identity_accounts -*-
"""
Accounts: a name that is owned.  Registering one, changing or dropping
its password, binding certificates to it, and what others may know of it.

Passwords are hashed with scrypt (L{globalchat.auth}) off the reactor
thread, and hashes go from the store to the check and nowhere else.
"""

from __future__ import annotations

import time
from typing import Callable

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.threads import deferToThread

from globalchat import tls
from globalchat.auth import hashPassword, verifyPassword
from globalchat.chat import names
from globalchat.chat.errors import ChatError
from globalchat.store.accounts import Account, IAccountStore

#: The shortest password an account may have.
MIN_PASSWORD = 8

#: The password hash of an account whose name a CA-signed client
#: certificate gives (C{--client-ca}): no password logs in to it, so the
#: name is its certificate holder's on every port.
CERTIFICATE_ONLY = "certificate-only"

#: The most certificates one account may have bound.
MAX_CERTIFICATES = 10


def readFingerprint(text: str) -> str:
    """
    A fingerprint as a user types it (C{SHA256:AB:CD:...}, with or without
    colons, any case) in the form the store keeps.

    @raise ChatError: if it is not one.
    """
    try:
        return tls.parseFingerprint(text).hex()
    except ValueError:
        raise ChatError("a certificate fingerprint is 64 hex digits (SHA256:AB:CD:...)") from None


class Accounts:
    """
    The account operations the chat's commands need.

    @param defer: runs password hashing off the reactor thread (in tests:
        at once).
    """

    def __init__(self, store: IAccountStore,
                 defer: Callable[..., Deferred] = deferToThread,
                 now: Callable[[], float] = time.time) -> None:
        self.store = store
        self._defer = defer
        self._now = now

    def find(self, name: str) -> Deferred[Account | None]:
        """
        The account called C{name} (any case), if there is one.
        """
        return self.store.account(names.key(name))

    def register(self, name: str, password: str) -> Deferred[Account]:
        """
        Make C{name} an account.

        @raise ChatError: (in the Deferred) for a weak password, a name
            taken or one that looks like an account's.
        """
        return ensureDeferred(self._register(name, password))

    async def _register(self, name: str, password: str) -> Account:
        checkPassword(password)
        alike = await self.store.accountBySkeleton(names.skeleton(name))
        if alike is not None:
            if alike.key == names.key(name):
                raise ChatError(f"{name} is registered already")
            raise ChatError(f"the name {name} looks like the account {alike.display}; "
                            "register another name")
        digest = await self._defer(hashPassword, password)
        account = Account(names.key(name), name, names.skeleton(name), digest, self._now())
        if not await self.store.createAccount(account):
            raise ChatError(f"{name} is registered already")
        return account

    def reserve(self, name: str) -> Deferred[str]:
        """
        Keep C{name} for the holder of a CA-signed certificate naming it:
        an account no password logs in to, unless it is one already.

        @return: the account's key.
        """
        return ensureDeferred(self._reserve(name))

    async def _reserve(self, name: str) -> str:
        key = names.key(name)
        if await self.store.account(key) is None:
            await self.store.createAccount(Account(key, name, names.skeleton(name),
                                                   CERTIFICATE_ONLY, self._now()))
        return key

    def verify(self, passwordHash: str, password: str) -> Deferred[bool]:
        """
        Whether C{password} is the one C{passwordHash} was made from,
        checked off the reactor.
        """
        return self._defer(verifyPassword, passwordHash, password)

    def changePassword(self, key: str, old: str, new: str) -> Deferred[None]:
        """
        Set the account's password to C{new}, given the C{old} one.
        """
        return ensureDeferred(self._changePassword(key, old, new))

    async def _changePassword(self, key: str, old: str, new: str) -> None:
        checkPassword(new)
        account = await self._owned(key, old)
        await self.store.setPassword(account.key, await self._defer(hashPassword, new))

    def unregister(self, key: str, password: str) -> Deferred[None]:
        """
        Drop the account (and its certificates), given its password.
        """
        return ensureDeferred(self._unregister(key, password))

    async def _unregister(self, key: str, password: str) -> None:
        account = await self._owned(key, password)
        await self.store.deleteAccount(account.key)

    async def _owned(self, key: str, password: str) -> Account:
        account = await self.store.account(key)
        if account is None:
            raise ChatError("your account is gone")
        if not await self.verify(account.passwordHash, password):
            raise ChatError("wrong password; nothing changed")
        return account

    def bind(self, key: str, fingerprint: str) -> Deferred[None]:
        """
        Let the certificate with C{fingerprint} log in to the account.
        """
        return ensureDeferred(self._bind(key, readFingerprint(fingerprint)))

    async def _bind(self, key: str, fingerprint: str) -> None:
        if len(await self.store.certificates(key)) >= MAX_CERTIFICATES:
            raise ChatError(f"an account may have {MAX_CERTIFICATES} certificates; "
                            "/cert del one first")
        if not await self.store.bindCertificate(key, fingerprint):
            raise ChatError("that certificate is bound to an account already")

    def unbind(self, key: str, fingerprint: str) -> Deferred[None]:
        """
        Stop the certificate with C{fingerprint} logging in to the account.
        """
        fingerprint = readFingerprint(fingerprint)

        def unbound(found: bool) -> None:
            if not found:
                raise ChatError("that certificate is not bound to your account")

        return self.store.unbindCertificate(key, fingerprint).addCallback(unbound)


def checkPassword(password: str) -> None:
    """
    @raise ChatError: if C{password} is too weak to keep a name.
    """
    if len(password) < MIN_PASSWORD:
        raise ChatError(f"a password needs at least {MIN_PASSWORD} characters")
    if password.strip() != password or " " in password:
        raise ChatError("a password is one word, without spaces")
