# -*- test-case-name: tests.test_irc_registration -*-
"""
Registering an IRC connection: CAP, PASS, NICK, USER and SASL.

A client is welcomed once it has a nick and a user and has ended its
capability negotiation; it logs in through the same
L{globalchat.identity.portal.Identity} as every other client: SASL PLAIN
is an account password, SASL EXTERNAL a certificate an account bound,
PASS the account's or the server's password.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.python.failure import Failure

from globalchat.chat import names
from globalchat.chat.errors import ChatError, WrongPassword
from globalchat.irc import numerics as N
from globalchat.irc.errors import IRCError
from globalchat.irc.message import Message, build
from globalchat.irc.server import REALNAMELEN, USERLEN

if TYPE_CHECKING:
    from globalchat.chat.hub import Hub
    from globalchat.identity.portal import Identity
    from globalchat.irc.session import IRCSession

#: The capabilities the server offers (C{sasl}'s value is its mechanisms).
CAPABILITIES = {
    "account-notify": "", "account-tag": "", "away-notify": "", "batch": "",
    "cap-notify": "", "draft/chathistory": "", "echo-message": "", "extended-join": "",
    "extended-monitor": "",
    "labeled-response": "", "message-tags": "", "multi-prefix": "",
    "sasl": "PLAIN,EXTERNAL", "server-time": "", "setname": "", "userhost-in-names": "",
}

#: Base64 comes in chunks of this many bytes; a shorter one is the last.
SASL_CHUNK = 400

#: The most base64 one SASL exchange may send.
SASL_MAX = 8192


def capList(values: bool) -> str:
    return " ".join(f"{name}={value}" if values and value else name
                    for name, value in CAPABILITIES.items())


class Registration:
    """
    The commands of registration, and the ones that work before it.
    """

    #: Commands a client may send before it is welcomed.
    UNREGISTERED = frozenset({"CAP", "NICK", "USER", "PASS", "AUTHENTICATE", "PING", "PONG",
                              "QUIT"})

    def __init__(self, hub: Hub, identity: Identity) -> None:
        self._hub = hub
        self._identity = identity

    # -- capabilities --------------------------------------------------------

    def irc_CAP(self, session: IRCSession, message: Message) -> None:
        params = message.params
        sub = params[0].upper() if params else ""
        nick = session.shownNick
        if sub == "LS":
            if not session.welcomed:
                session.negotiating = True
            version = int(params[1]) if len(params) > 1 and params[1].isdigit() else 0
            session.capVersion = max(session.capVersion, version)
            if version >= 302:
                # cap-notify is on for every client that speaks CAP 302.
                session.setCaps(session.caps | {"cap-notify"})
            session.fromServer("CAP", nick, "LS", capList(session.capVersion >= 302))
        elif sub == "LIST":
            session.fromServer("CAP", nick, "LIST", " ".join(sorted(session.caps)))
        elif sub == "REQ":
            if not session.welcomed:
                session.negotiating = True
            asked = params[1] if len(params) > 1 else ""
            caps = set(session.caps)
            for word in asked.split():
                name = word.lstrip("-")
                if name not in CAPABILITIES:
                    session.fromServer("CAP", nick, "NAK", asked)
                    return
                (caps.discard if word.startswith("-") else caps.add)(name)
            session.setCaps(caps)
            session.fromServer("CAP", nick, "ACK", asked)
        elif sub == "END":
            if not session.welcomed:
                session.negotiating = False
                self._register(session)
        else:
            raise IRCError(N.ERR_INVALIDCAPCMD, sub or "*", "Invalid CAP command")

    # -- who it is -------------------------------------------------------------

    def irc_PASS(self, session: IRCSession, message: Message) -> None:
        if session.welcomed:
            raise IRCError(N.ERR_ALREADYREGISTERED, "You may not reregister")
        if not message.params:
            raise IRCError(N.ERR_NEEDMOREPARAMS, "PASS", "Not enough parameters")
        session.password = message.params[0]

    def irc_NICK(self, session: IRCSession, message: Message) -> None:
        if not message.params or not message.params[0]:
            raise IRCError(N.ERR_NONICKNAMEGIVEN, "No nickname given")
        nick = message.params[0]
        if session.welcomed:
            self._rename(session, nick)
            return
        try:
            names.checkName(nick)
        except ChatError as e:
            raise IRCError(N.ERR_ERRONEUSNICKNAME, nick, str(e)) from None
        if session.name is None:
            self._hub.checkFree(nick, session)
        session.nick = nick
        self._register(session)

    def _rename(self, session: IRCSession, nick: str) -> None:
        if nick == session.name:
            return
        try:
            names.checkName(nick)
        except ChatError as e:
            raise IRCError(N.ERR_ERRONEUSNICKNAME, nick, str(e)) from None
        d = self._hub.rename(session, nick)

        def refused(failure: Failure) -> None:
            failure.trap(ChatError)
            session.refuse(failure.value, nick)

        session.waitFor(d.addErrback(refused))

    def irc_USER(self, session: IRCSession, message: Message) -> None:
        if session.welcomed or session.username is not None:
            raise IRCError(N.ERR_ALREADYREGISTERED, "You may not reregister")
        params = message.params
        if len(params) < 4 or not params[0] or not params[3]:
            raise IRCError(N.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
        session.username = "~" + params[0][:USERLEN - 1]
        session.realname = params[3][:REALNAMELEN]
        self._register(session)

    def _register(self, session: IRCSession) -> None:
        """
        Log the client in and welcome it, once it has said all it has to.
        """
        if (session.welcomed or session.registering or session.negotiating
                or session.username is None or (session.nick is None and session.name is None)):
            return
        typed = session.nick or session.name
        if session.name is not None:
            # Logged in by SASL already.
            self._welcome(session, typed)
            return
        session.registering = True
        d = maybeDeferred(self._begin, session, typed)

        def loggedIn(_: object) -> None:
            session.registering = False
            if not session.gone:
                self._welcome(session, typed)

        def refused(failure: Failure) -> None:
            session.registering = False
            failure.trap(ChatError)
            error = failure.value
            if session.gone:
                return
            if failure.check(WrongPassword) or error.reason in ("password", "banned"):
                if failure.check(WrongPassword):
                    session.strike()
                code = N.ERR_YOUREBANNEDCREEP if error.reason == "banned" else N.ERR_PASSWDMISMATCH
                session.answer(build(code, session.shownNick, str(error),
                                     source=session.server.name))
                session.close()
                return
            session.nick = None
            session.refuse(error, typed)

        session.waitFor(d.addCallbacks(loggedIn, refused))

    def _begin(self, session: IRCSession, typed: str) -> Deferred[bool]:
        identity = self._identity
        name = identity.nameFor(typed, session.connection.certificate)
        if not (identity.certified and session.connection.certificate is not None):
            self._hub.checkFree(name, session)

        def begun(loggedIn: bool):
            if loggedIn:
                return True
            if session.password is not None:
                return identity.login(session, name, session.password)
            if identity.needsPassword:
                raise ChatError("this server needs a password: PASS, or SASL for an account",
                                "password")
            raise ChatError(f"{name} is a registered account: log in to it with SASL (or "
                            "PASS with its password), or choose another nick", "name-taken")

        return identity.begin(session, name).addCallback(begun)

    def _welcome(self, session: IRCSession, typed: str) -> None:
        session.welcomed = True
        session.signedOn = session.now()
        session.nick = None
        self._hub.welcome(session, typed)

    # -- SASL ------------------------------------------------------------------

    def irc_AUTHENTICATE(self, session: IRCSession, message: Message) -> None:
        if "sasl" not in session.caps:
            raise IRCError(N.ERR_SASLFAIL, "SASL authentication failed: CAP REQ sasl first")
        if not message.params:
            raise IRCError(N.ERR_NEEDMOREPARAMS, "AUTHENTICATE", "Not enough parameters")
        if session.account is not None:
            raise IRCError(N.ERR_SASLALREADY, "You have already authenticated using SASL")
        argument = message.params[0]
        if argument == "*":
            session.sasl = None
            raise IRCError(N.ERR_SASLABORTED, "SASL authentication aborted")
        if session.sasl is None:
            mechanism = argument.upper()
            if mechanism not in ("PLAIN", "EXTERNAL"):
                session.numeric(N.RPL_SASLMECHS, CAPABILITIES["sasl"],
                                "are available SASL mechanisms")
                raise IRCError(N.ERR_SASLFAIL, "SASL authentication failed")
            session.sasl = (mechanism, "")
            session.reply(build("AUTHENTICATE", "+"))
            return
        mechanism, data = session.sasl
        if argument != "+":
            data += argument
        if len(data) > SASL_MAX:
            session.sasl = None
            raise IRCError(N.ERR_SASLTOOLONG, "SASL message too long")
        if len(argument) == SASL_CHUNK:
            session.sasl = (mechanism, data)
            return
        session.sasl = None
        d = self._saslLogin(session, mechanism, data)

        def done(_: object) -> None:
            nick = session.shownNick
            user, host = session.server.userHost(session)
            session.answer(build(N.RPL_LOGGEDIN, nick, f"{nick}!{user}@{host}", session.name,
                                 f"You are now logged in as {session.name}",
                                 source=session.server.name))
            session.answer(build(N.RPL_SASLSUCCESS, nick, "SASL authentication successful",
                                 source=session.server.name))

        def failed(failure: Failure) -> None:
            failure.trap(ChatError)
            if failure.check(WrongPassword):
                session.strike()
            session.answer(build(N.ERR_SASLFAIL, session.shownNick,
                                 f"SASL authentication failed: {failure.getErrorMessage()}",
                                 source=session.server.name))

        session.waitFor(d.addCallbacks(done, failed))

    def _saslLogin(self, session: IRCSession, mechanism: str, data: str) -> Deferred:
        try:
            raw = base64.b64decode(data, validate=True) if data else b""
        except (binascii.Error, ValueError):
            return maybeDeferred(_refuse, "that is not base64")
        if mechanism == "EXTERNAL":
            return self._identity.loginByCertificate(session)
        parts = raw.split(b"\0")
        try:
            authzid, authcid, password = (p.decode("utf-8") for p in parts)
        except (ValueError, UnicodeDecodeError):
            return maybeDeferred(_refuse, "PLAIN takes authzid NUL authcid NUL password")
        if authzid and names.key(authzid) != names.key(authcid):
            return maybeDeferred(_refuse, "you can only log in as yourself")
        return maybeDeferred(self._identity.login, session, authcid, password)

    # -- always --------------------------------------------------------------

    def irc_PING(self, session: IRCSession, message: Message) -> None:
        if not message.params:
            raise IRCError(N.ERR_NOORIGIN, "No origin specified")
        session.fromServer("PONG", session.server.name, message.params[0])

    def irc_PONG(self, session: IRCSession, message: Message) -> None:
        pass

    def irc_QUIT(self, session: IRCSession, message: Message) -> None:
        reason = f"Quit: {message.params[0]}" if message.params and message.params[0] else "Quit"
        self._hub.quit(session, reason)
        session.closeWith(build("ERROR", f"Closing Link: {session.server.name} ({reason})"))


def _refuse(text: str) -> None:
    raise ChatError(text)
