# -*- test-case-name: tests.test_irc_session -*-
"""
The IRC port (C{--irc}): the line transport's framing and back-pressure,
with IRC's line length and an L{IRCSession} behind it.
"""

from __future__ import annotations

from globalchat.chat.admission import Admission
from globalchat.irc.channels import ChannelCommands
from globalchat.irc.commands import IRCCommands
from globalchat.irc.message import MAX_LINE
from globalchat.irc.help import HelpCommands
from globalchat.irc.history import HistoryCommands
from globalchat.irc.messaging import MessageCommands
from globalchat.irc.modes import ModeCommands
from globalchat.irc.queries import QueryCommands
from globalchat.irc.registration import Registration
from globalchat.irc.server import DEFAULT_NAME, IRCServer
from globalchat.irc.session import sessionClass
from globalchat.server import ChatFactory, ChatProtocol


class IRCProtocol(ChatProtocol):
    """
    One IRC client's connection.
    """

    __slots__ = ()

    @property
    def kind(self) -> str:
        return "irc"


class IRCFactory(ChatFactory):
    """
    Makes an L{IRCProtocol} for each client of one IRC port.

    @ivar server: what the server's IRC connections share.
    """

    protocol = IRCProtocol

    def __init__(self, admission: Admission, server: IRCServer) -> None:
        super().__init__(admission, maxLineLength=MAX_LINE)
        self.server = server
        self.sessionType = sessionClass(server, commandsFor(admission, server))


def commandsFor(admission: Admission, server: IRCServer) -> IRCCommands:
    """
    The IRC commands, bound to the admission's hub and identity.
    """
    hub = admission.hub
    channels = ChannelCommands(hub)
    return IRCCommands(Registration(hub, admission.identity), channels, MessageCommands(hub),
                       QueryCommands(hub, server, channels), ModeCommands(hub, channels),
                       HistoryCommands(hub), HelpCommands())


def ircFactory(admission: Admission, name: str = DEFAULT_NAME) -> IRCFactory:
    """
    The factory every C{--irc} port of a server shares.

    @param name: the server's name (C{--irc-name}).
    """
    server = IRCServer(admission.hub, admission.clock, name,
                       connections=lambda: admission.connections)
    admission.hub.watchers.append(server)
    return IRCFactory(admission, server)
