"""
Tests for L{globalchat.identity}: each way in is a L{twisted.cred}
checker, and the realm claims the name it gives.
"""

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm
from twisted.internet.defer import maybeDeferred
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from globalchat.auth import hashPassword
from globalchat.chat.errors import ChatError
from globalchat.chat.hub import Hub
from globalchat.identity.checkers import (
    ClientCertificate,
    ClientCertificateChecker,
    Guest,
    GuestChecker,
    Login,
    ServerPasswordChecker,
)
from globalchat.identity.portal import ChatRealm, IChatUser
from tests.chatfakes import Recorder, clientCertificate, connect

STORED = hashPassword("s3cret", salt=b"0" * 16)


def atOnce(f, *args):
    return maybeDeferred(f, *args)


class CheckerTests(SynchronousTestCase):
    """
    Each checker names the user, or refuses.
    """

    def test_interfaces(self):
        """
        The checkers and the realm provide the interfaces a portal uses.
        """
        passwords = ServerPasswordChecker(STORED)
        for checker in (GuestChecker(), passwords, ClientCertificateChecker(passwords)):
            verifyObject(ICredentialsChecker, checker)
        verifyObject(IRealm, ChatRealm(Hub()))

    def test_guest(self):
        """
        A guest gets the name it gave, if it is a valid name.
        """
        self.assertEqual(self.successResultOf(GuestChecker().requestAvatarId(Guest("Ann"))),
                         Login("Ann"))
        self.assertRaises(ChatError, GuestChecker().requestAvatarId, Guest("no spaces"))

    def test_serverPassword(self):
        """
        The right server password names the user; a wrong one is refused.
        """
        checker = ServerPasswordChecker(STORED, defer=atOnce)
        right = checker.requestAvatarId(UsernamePassword("Ann", "s3cret"))
        self.assertEqual(self.successResultOf(right), Login("Ann"))
        wrong = checker.requestAvatarId(UsernamePassword("Ann", "guess"))
        self.failureResultOf(wrong, UnauthorizedLogin)

    def test_clientCertificate(self):
        """
        A client certificate names its holder, with the server password
        too when the server asks for both.
        """
        certificate = clientCertificate(self.mktemp(), "alice")
        checker = ClientCertificateChecker()
        self.assertEqual(
            self.successResultOf(checker.requestAvatarId(ClientCertificate(certificate))),
            Login("alice"))
        both = ClientCertificateChecker(ServerPasswordChecker(STORED, defer=atOnce))
        self.assertEqual(self.successResultOf(
            both.requestAvatarId(ClientCertificate(certificate, "s3cret"))), Login("alice"))
        self.failureResultOf(both.requestAvatarId(ClientCertificate(certificate, "guess")),
                             UnauthorizedLogin)
        self.failureResultOf(checker.requestAvatarId(ClientCertificate(None)), UnauthorizedLogin)


class RealmTests(SynchronousTestCase):
    """
    The realm makes the chat user and claims its name.
    """

    def test_claimsName(self):
        """
        The name is claimed for the session; another cannot have it, and
        logging out frees it.
        """
        hub = Hub()
        realm = ChatRealm(hub)
        first, second = connect(hub, Recorder()), connect(hub, Recorder())
        interface, user, logout = self.successResultOf(
            realm.requestAvatar(Login("Ann", "ann"), first, IChatUser))
        self.assertEqual((interface, user.name, user.account, hub.names),
                         (IChatUser, "Ann", "ann", ["Ann"]))
        self.failureResultOf(realm.requestAvatar(Login("ANN"), second, IChatUser), ChatError)
        logout()
        self.assertEqual(hub.names, [])
