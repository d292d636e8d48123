# -*- test-case-name: tests.test_identity -*-
"""
The credentials a client can show and the checker for each.

A checker answers with a L{Login}, the avatar id: the name the client may
chat under and the account it is logged in to, if any; or it fails with
L{UnauthorizedLogin}.  Password checks are slow on purpose (scrypt), so
they run in Twisted's thread pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from OpenSSL import crypto
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import ICredentials, IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.threads import deferToThread
from zope.interface import Attribute, implementer

from globalchat.auth import hashPassword, verifyPassword
from globalchat.chat import names
from globalchat.tls import certificateDigest, commonName

from globalchat.identity.accounts import CERTIFICATE_ONLY

if TYPE_CHECKING:
    from globalchat.identity.accounts import Accounts

#: Checked against when there is no account, so that a missing account
#: takes as long to refuse as a wrong password.
_NOBODY = hashPassword("no account has this password", salt=b"globalchat-nobody")


@dataclass(frozen=True, slots=True)
class Login:
    """
    Who a client turned out to be.

    @ivar name: the name it chats under.
    @ivar account: the key of the account it logged in to, or C{None} for
        a guest.
    """

    name: str
    account: str | None = None


class IGuest(ICredentials):
    """
    A name and nothing else: what a client shows on an open server.
    """

    name = Attribute("The name it typed.")


@implementer(IGuest)
class Guest:
    def __init__(self, name: str) -> None:
        self.name = name


class ICertificateFingerprint(ICredentials):
    """
    A certificate the client showed, which an account may have bound
    (C{/cert add}): no CA is needed, the fingerprint is the proof.
    """

    certificate = Attribute("An OpenSSL X509.")


@implementer(ICertificateFingerprint)
class CertificateFingerprint:
    def __init__(self, certificate: crypto.X509) -> None:
        self.certificate = certificate


class IClientCertificate(ICredentials):
    """
    The certificate the client proved it holds in the TLS handshake
    (C{--client-ca}), and the server password when there is one too.
    """

    certificate = Attribute("An OpenSSL X509, or None.")
    password = Attribute("The password it gave, or None.")


@implementer(IClientCertificate)
class ClientCertificate:
    def __init__(self, certificate: crypto.X509 | None, password: str | None = None) -> None:
        self.certificate = certificate
        self.password = password


@implementer(ICredentialsChecker)
class GuestChecker:
    """
    Anyone may chat under any valid name.
    """

    credentialInterfaces = (IGuest,)

    def requestAvatarId(self, credentials: Guest) -> Deferred[Login]:
        return succeed(Login(names.checkName(credentials.name)))


@implementer(ICredentialsChecker)
class ServerPasswordChecker:
    """
    The one server password (C{--password-file}), against its stored hash.

    @param defer: runs the check off the reactor thread (in tests: at once).
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, stored: str, defer: Callable[..., Deferred] = deferToThread) -> None:
        self._stored = stored
        self._defer = defer

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[Login]:
        def checked(right: bool) -> Login:
            if not right:
                raise UnauthorizedLogin("wrong password")
            return Login(credentials.username)

        return self._defer(verifyPassword, self._stored, credentials.password).addCallback(checked)


@implementer(ICredentialsChecker)
class ClientCertificateChecker:
    """
    A certificate signed by the server's client CA names the user by its
    common name (the handshake already checked the signature).

    @param passwords: also checks the server password under that name,
        when the server asks for both.
    @param accounts: with accounts on, the name is kept for the
        certificate's holder, as an account no password logs in to, so
        nobody takes it on another port.
    """

    credentialInterfaces = (IClientCertificate,)

    def __init__(self, passwords: ServerPasswordChecker | None = None,
                 accounts: Accounts | None = None) -> None:
        self._passwords = passwords
        self._accounts = accounts

    def requestAvatarId(self, credentials: ClientCertificate) -> Deferred[Login]:
        return ensureDeferred(self._check(credentials))

    async def _check(self, credentials: ClientCertificate) -> Login:
        name = certificateName(credentials.certificate)
        if name is None:
            raise UnauthorizedLogin("no client certificate with a name")
        if self._passwords is not None:
            await self._passwords.requestAvatarId(UsernamePassword(name, credentials.password))
        if self._accounts is None:
            return Login(name)
        return Login(name, await self._accounts.reserve(name))


@implementer(ICredentialsChecker)
class AccountPasswordChecker:
    """
    A name and a password: the account's password if the name is an
    account, else the server password (C{--password-file}) when there is
    one; else the login fails, after as long as a real check would take.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, accounts: Accounts, server: ServerPasswordChecker | None = None) -> None:
        self._accounts = accounts
        self._server = server

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[Login]:
        return ensureDeferred(self._check(credentials))

    async def _check(self, credentials: IUsernamePassword) -> Login:
        account = await self._accounts.find(credentials.username)
        if account is None and self._server is not None:
            return await self._server.requestAvatarId(credentials)
        usable = account is not None and account.passwordHash != CERTIFICATE_ONLY
        stored = account.passwordHash if usable else _NOBODY
        right = await self._accounts.verify(stored, credentials.password)
        if not usable or not right:
            raise UnauthorizedLogin("wrong name or password")
        return Login(account.display, account.key)


@implementer(ICredentialsChecker)
class CertificateFingerprintChecker:
    """
    A certificate whose fingerprint an account bound logs in to it.
    """

    credentialInterfaces = (ICertificateFingerprint,)

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    def requestAvatarId(self, credentials: CertificateFingerprint) -> Deferred[Login]:
        return ensureDeferred(self._check(credentials))

    async def _check(self, credentials: CertificateFingerprint) -> Login:
        store = self._accounts.store
        key = await store.certificateOwner(certificateDigest(credentials.certificate))
        account = await store.account(key) if key is not None else None
        if account is None:
            raise UnauthorizedLogin("no account has this certificate")
        return Login(account.display, account.key)


def certificateName(certificate: crypto.X509 | None) -> str | None:
    """
    The name a client certificate gives its holder, if any.
    """
    return commonName(certificate) if certificate is not None else None
