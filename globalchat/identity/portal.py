# -*- test-case-name: tests.test_identity -*-
"""
Logging in: the portal, its realm, and what the server asks of a client.

L{Identity} turns the lines a client typed (a name, maybe a password) and
its TLS certificate into one set of credentials for the portal; the
checker for those credentials names the user; L{ChatRealm} claims that
name in the chat.  A new way in is a new checker, not a change here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from OpenSSL import crypto
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Attribute, Interface, implementer

from globalchat.chat import names
from globalchat.chat.errors import ChatError, WrongPassword
from globalchat.identity.checkers import (
    ClientCertificate,
    ClientCertificateChecker,
    Guest,
    GuestChecker,
    ServerPasswordChecker,
    certificateName,
)

if TYPE_CHECKING:
    from globalchat.chat.hub import Hub
    from globalchat.chat.session import Session


class IChatUser(Interface):
    """
    A logged-in user.
    """

    name = Attribute("The name it chats under.")


@implementer(IChatUser)
class ChatUser:
    def __init__(self, name: str) -> None:
        self.name = name


@implementer(IRealm)
class ChatRealm:
    """
    Makes the user a checker named: claims the name for the session that
    logged in (the mind), and gives it back when the session ends.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def requestAvatar(self, avatarId: str, mind: Session, *interfaces):
        if IChatUser not in interfaces:
            raise NotImplementedError("globalchat only makes chat users")
        names.checkName(avatarId)
        self._hub.bus.claim(mind, avatarId)
        return IChatUser, ChatUser(avatarId), lambda: self._hub.quit(mind, "connection closed")


class Identity:
    """
    What the server asks of a client before it may chat, and the portal
    that checks it.

    @ivar asksPassword: whether a password follows the name.
    @ivar certified: whether a client certificate names its holder.
    """

    log = Logger()

    def __init__(self, portal: Portal, asksPassword: bool = False,
                 certified: bool = False) -> None:
        self._portal = portal
        self.asksPassword = asksPassword
        self.certified = certified

    @classmethod
    def forServer(cls, hub: Hub, password: ServerPasswordChecker | None = None,
                  clientCertificates: bool = False) -> Identity:
        """
        The identity a server's options ask for: guests, or the server
        password, and (C{--client-ca}) names from client certificates.
        """
        checkers = [password if password is not None else GuestChecker()]
        if clientCertificates:
            checkers.append(ClientCertificateChecker(password))
        return cls(Portal(ChatRealm(hub), checkers), asksPassword=password is not None,
                   certified=clientCertificates)

    def nameFor(self, typed: str, certificate: crypto.X509 | None) -> str:
        """
        The name a client that typed C{typed} logs in as: its
        certificate's, when certificates name users.

        @raise ChatError: if that is not a valid name.
        """
        if self.certified and certificate is not None:
            typed = certificateName(certificate) or typed
        return names.checkName(typed)

    def login(self, session: Session, name: str, password: str | None) -> Deferred[None]:
        """
        Check the client's credentials and claim C{name} for C{session}.

        @return: fires once it is logged in, or fails with a L{ChatError}
            to answer with (a wrong password is logged and counted against
            the address first).
        """
        certificate = session.connection.certificate
        if self.certified and certificate is not None:
            credentials = ClientCertificate(certificate, password)
        elif self.asksPassword:
            credentials = UsernamePassword(name, password)
        else:
            credentials = Guest(name)
        d = self._portal.login(credentials, session, IChatUser)

        def loggedIn(result) -> None:
            session.loggedIn(result[2], certified=isinstance(credentials, ClientCertificate))

        def refused(failure: Failure) -> None:
            if failure.check(ChatError):
                return failure
            if failure.check(UnauthorizedLogin):
                self.log.warn("{peer} gave a wrong password for {name}",
                              peer=session.connection.peer, name=name, security="auth-failed")
                raise WrongPassword("wrong password; give your name again")
            self.log.failure("checking the login of {peer} failed", failure,
                             peer=session.connection.peer)
            raise ChatError("your login cannot be checked right now; give your name again")

        return d.addCallbacks(loggedIn, refused)
