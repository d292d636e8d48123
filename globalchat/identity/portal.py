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
from twisted.internet.defer import Deferred, ensureDeferred, fail
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Attribute, Interface, implementer

from globalchat.chat import names
from globalchat.chat.counters import Counters
from globalchat.chat.errors import ChatError, WrongPassword
from globalchat.identity.accounts import Accounts
from globalchat.identity.checkers import (
    AccountPasswordChecker,
    CertificateFingerprint,
    CertificateFingerprintChecker,
    ClientCertificate,
    ClientCertificateChecker,
    Guest,
    GuestChecker,
    Login,
    ServerPasswordChecker,
    certificateName,
)
from globalchat.identity.throttle import LoginThrottle

if TYPE_CHECKING:
    from globalchat.chat.hub import Hub
    from globalchat.chat.session import Session


class IChatUser(Interface):
    """
    A logged-in user.
    """

    name = Attribute("The name it chats under.")
    account = Attribute("The key of its account, or None for a guest.")


@implementer(IChatUser)
class ChatUser:
    def __init__(self, name: str, account: str | None = None) -> None:
        self.name = name
        self.account = account


@implementer(IRealm)
class ChatRealm:
    """
    Makes the user a checker named: claims the name for the session that
    logged in (the mind), and gives it back when the session ends.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def requestAvatar(self, avatarId: Login, mind: Session, *interfaces):
        if IChatUser not in interfaces:
            raise NotImplementedError("globalchat only makes chat users")
        names.checkName(avatarId.name)
        if self._hub.moderation is not None:
            self._hub.moderation.checkLogin(avatarId.name, avatarId.account,
                                            mind.connection.host)
        holder = self._hub.bus.holder(avatarId.name)
        if holder is not None and holder is not mind and avatarId.account is not None \
                and holder.account is None:
            # A guest kept the name warm; its owner is here.
            self._hub.quit(holder, "name reclaimed by its owner")
            holder.closeWith(holder.render.error(f"{avatarId.name} is an account, and its owner has "
                                        "just logged in"))
        user = ChatUser(avatarId.name, avatarId.account)
        # The logout is the session's own method: a closure here would be
        # a few hundred bytes more for each connection.
        return self._hub.bus.claim(mind, avatarId.name).addCallback(
            lambda _: (IChatUser, user, mind.loggedOut))


class Identity:
    """
    What the server asks of a client before it may chat, and the portal
    that checks it.

    A client types a name.  It is logged in at once when its certificate
    proves who it is (C{--client-ca}, or one bound to an account); asked
    for a password (C{AUTH name}) when the name is an account, or when
    the server has a password (C{--password-file}) or takes no guests
    (C{--accounts required}); and let in as a guest otherwise.

    @ivar certified: whether a CA-signed client certificate names its holder.
    @ivar accounts: the accounts, or C{None} (C{--accounts off}).
    @ivar counters: where logins are counted, by kind.
    """

    log = Logger()

    def __init__(self, portal: Portal, accounts: Accounts | None = None,
                 serverPassword: bool = False, certified: bool = False,
                 guests: bool = True, throttle: LoginThrottle | None = None,
                 counters: Counters | None = None) -> None:
        self._portal = portal
        self.counters = counters if counters is not None else Counters()
        self.accounts = accounts
        self._serverPassword = serverPassword
        self.certified = certified
        self._guests = guests
        self._throttle = throttle

    @classmethod
    def forServer(cls, hub: Hub, password: ServerPasswordChecker | None = None,
                  clientCertificates: bool = False, accounts: Accounts | None = None,
                  guests: bool = True, clock: IReactorTime | None = None,
                  throttle: bool = True) -> Identity:
        """
        The identity a server's options ask for.

        @param password: the server password's checker, if there is one.
        @param clientCertificates: whether CA-signed certificates name users.
        @param accounts: the accounts, unless they are off.
        @param guests: whether names that are not accounts may be used.
        @param throttle: whether failed logins slow down the next tries
            (off only for test harnesses, which fail on purpose).
        """
        checkers: list = [GuestChecker()] if password is None and guests else []
        if accounts is not None:
            checkers += [AccountPasswordChecker(accounts, password),
                         CertificateFingerprintChecker(accounts)]
        elif password is not None:
            checkers.append(password)
        if clientCertificates:
            checkers.append(ClientCertificateChecker(password, accounts))
        return cls(Portal(ChatRealm(hub), checkers), accounts, password is not None,
                   clientCertificates, guests,
                   LoginThrottle(clock) if clock and throttle else None,
                   hub.counters)

    def nameFor(self, typed: str, certificate: crypto.X509 | None) -> str:
        """
        The name a client that typed C{typed} logs in as: its
        certificate's, when certificates name users.

        @raise ChatError: if that is not a valid name.
        """
        if self.certified and certificate is not None:
            typed = certificateName(certificate) or typed
        return names.checkName(typed)

    def begin(self, session: Session, name: str) -> Deferred[bool]:
        """
        The client typed C{name}: log it in if nothing more is needed.

        @return: fires with whether it is logged in (else a password is
            wanted), or fails with the L{ChatError} to answer with.
        """
        return ensureDeferred(self._begin(session, name))

    async def _begin(self, session: Session, name: str) -> bool:
        certificate = session.connection.certificate
        if self.certified and certificate is not None:
            if self._serverPassword:
                return False
            await self._login(session, name, ClientCertificate(certificate))
            return True
        if self.accounts is not None:
            if certificate is not None:
                try:
                    await self._login(session, name, CertificateFingerprint(certificate))
                    return True
                except WrongPassword:
                    pass  # Not bound to an account: log in by name.
            if await self.accounts.find(name) is not None:
                return False
        if self._serverPassword or not self._guests:
            return False
        await self._login(session, name, Guest(name))
        return True

    @property
    def needsPassword(self) -> bool:
        """
        Whether every client must give a password, whatever its name: the
        server has one, or takes no guests.
        """
        return self._serverPassword or not self._guests

    def loginByCertificate(self, session: Session) -> Deferred[bool]:
        """
        Log in to the account that bound the client's certificate (IRC's
        SASL EXTERNAL).

        @return: fires (with C{True}) once logged in, or fails with
            L{WrongPassword} when no account has it.
        """
        certificate = session.connection.certificate
        if certificate is None or self.accounts is None:
            return fail(WrongPassword("no client certificate that an account bound"))
        credentials = CertificateFingerprint(certificate)
        return self._login(session, "-", credentials).addCallback(lambda _: True)

    def login(self, session: Session, name: str, password: str) -> Deferred[bool]:
        """
        Check the password the client gave for C{name}.

        @return: fires (with C{True}) once it is logged in, or fails with
            the L{ChatError} to answer with (a wrong password is logged,
            and counted against the address and the name, first).
        """
        if self._throttle is not None:
            self._throttle.check(names.key(name), session.connection.host)
        certificate = session.connection.certificate
        if self.certified and certificate is not None:
            credentials = ClientCertificate(certificate, password)
        else:
            credentials = UsernamePassword(name, password)
        return self._login(session, name, credentials).addCallback(lambda _: True)

    def _login(self, session: Session, name: str, credentials) -> Deferred[None]:
        d = self._portal.login(credentials, session, IChatUser)

        def loggedIn(result) -> None:
            user = result[1]
            if self._throttle is not None:
                self._throttle.succeeded(names.key(user.name))
            self.counters.logins[_loginKind(credentials)] += 1
            session.loggedIn(result[2], certified=isinstance(credentials, ClientCertificate),
                             account=user.account)

        def refused(failure: Failure) -> None:
            if failure.check(ChatError):
                return failure
            if failure.check(UnauthorizedLogin):
                if isinstance(credentials, CertificateFingerprint):
                    raise WrongPassword("no account has this certificate")
                self.log.warn("{peer} gave a wrong password for {name}",
                              peer=session.connection.peer, name=name, security="auth-failed")
                if self._throttle is not None:
                    self._throttle.failed(names.key(name), session.connection.host)
                raise WrongPassword("wrong password; give your name again")
            self.log.failure("checking the login of {peer} failed", failure,
                             peer=session.connection.peer)
            raise ChatError("your login cannot be checked right now; give your name again")

        return d.addCallbacks(loggedIn, refused)


def _loginKind(credentials: object) -> str:
    """
    How credentials proved who their holder is, as logins are counted.
    """
    if isinstance(credentials, (ClientCertificate, CertificateFingerprint)):
        return "certificate"
    return "guest" if isinstance(credentials, Guest) else "password"
