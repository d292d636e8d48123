# -*- test-case-name: tests.test_identity -*-
"""
The credentials a client can show and the checker for each.

A checker answers with the name the client may chat under (the avatar
id), or fails with L{UnauthorizedLogin}.  Password checks are slow on
purpose (scrypt), so they run in Twisted's thread pool.
"""

from __future__ import annotations

from typing import Callable

from OpenSSL import crypto
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import ICredentials, IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, succeed
from twisted.internet.threads import deferToThread
from zope.interface import Attribute, implementer

from globalchat.auth import verifyPassword
from globalchat.chat import names
from globalchat.tls import commonName


class IGuest(ICredentials):
    """
    A name and nothing else: what a client shows on an open server.
    """

    name = Attribute("The name it typed.")


@implementer(IGuest)
class Guest:
    def __init__(self, name: str) -> None:
        self.name = name


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

    def requestAvatarId(self, credentials: Guest) -> Deferred[str]:
        return succeed(names.checkName(credentials.name))


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

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[str]:
        def checked(right: bool) -> str:
            if not right:
                raise UnauthorizedLogin("wrong password")
            return credentials.username

        return self._defer(verifyPassword, self._stored, credentials.password).addCallback(checked)


@implementer(ICredentialsChecker)
class ClientCertificateChecker:
    """
    A certificate signed by the server's client CA names the user by its
    common name (the handshake already checked the signature).

    @param passwords: also checks the server password under that name,
        when the server asks for both.
    """

    credentialInterfaces = (IClientCertificate,)

    def __init__(self, passwords: ServerPasswordChecker | None = None) -> None:
        self._passwords = passwords

    def requestAvatarId(self, credentials: ClientCertificate) -> Deferred[str]:
        name = certificateName(credentials.certificate)
        if name is None:
            raise UnauthorizedLogin("no client certificate with a name")
        if self._passwords is None:
            return succeed(name)
        return self._passwords.requestAvatarId(UsernamePassword(name, credentials.password))


def certificateName(certificate: crypto.X509 | None) -> str | None:
    """
    The name a client certificate gives its holder, if any.
    """
    return commonName(certificate) if certificate is not None else None
