# -*- test-case-name: tests.test_irc_queries -*-
"""
HELP (and HELPOP): a line about each command, from the server itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from globalchat.irc import numerics as N
from globalchat.irc.message import Message

if TYPE_CHECKING:
    from globalchat.irc.session import IRCSession

#: What each command does, in a line.
HELP = {
    "AWAY": "AWAY [:message] - mark yourself away, or back",
    "CAP": "CAP LS|LIST|REQ|END - negotiate IRCv3 capabilities",
    "CHATHISTORY": "CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN|TARGETS - stored messages",
    "HELP": "HELP [command] - this help",
    "INFO": "INFO - about the server",
    "INVITE": "INVITE nick #channel - invite someone",
    "ISON": "ISON nick... - who of them is online",
    "JOIN": "JOIN #channel[,#channel] [key[,key]] - join channels",
    "KICK": "KICK #channel nick[,nick] [:reason] - put someone out (operators)",
    "KILL": "KILL nick [:reason] - disconnect someone (server operators)",
    "LIST": "LIST [#channel,...] - channels with their member counts and topics",
    "LUSERS": "LUSERS - how many users and channels",
    "MODE": "MODE #channel [+|-modes [arguments]] or MODE nick [+i|+B] - modes",
    "MONITOR": "MONITOR +|- nick,... / C / L / S - be told when nicks come and go",
    "MOTD": "MOTD - the message of the day",
    "NAMES": "NAMES #channel - who is in a channel",
    "NICK": "NICK newnick - change your nick",
    "NOTICE": "NOTICE target :text - a message never answered automatically",
    "OPER": "OPER account password - become a server operator",
    "PART": "PART #channel[,#channel] [:reason] - leave channels",
    "PING": "PING token - the server answers PONG",
    "PRIVMSG": "PRIVMSG target[,target] :text - send a message to a channel or a nick",
    "QUIT": "QUIT [:reason] - leave the chat",
    "SETNAME": "SETNAME :real name - change your real name",
    "TAGMSG": "TAGMSG target - client-only tags, such as typing notifications",
    "TIME": "TIME - the server's time",
    "TOPIC": "TOPIC #channel [:topic] - show or set a channel's topic",
    "USERHOST": "USERHOST nick... - user and host of nicks",
    "VERSION": "VERSION - the server's version and ISUPPORT",
    "WALLOPS": "WALLOPS :text - to every user with mode +w (server operators)",
    "WHO": "WHO mask [%fields] - list users (WHOX fields)",
    "WHOIS": "WHOIS nick - about a user",
    "WHOWAS": "WHOWAS nick - about a user who left",
}


class HelpCommands:
    """
    HELP and HELPOP.
    """

    def irc_HELP(self, session: IRCSession, message: Message) -> None:
        subject = message.params[0].upper() if message.params else ""
        if subject and subject not in HELP:
            session.numeric(N.ERR_HELPNOTFOUND, message.params[0], "No help available on this topic")
            return
        lines = [HELP[subject]] if subject else [
            "globalchat: one chat for IRC, line and web clients. Commands:",
            " ".join(sorted(HELP)), "HELP command tells more."]
        shown = subject or "*"
        session.numeric(N.RPL_HELPSTART, shown, lines[0])
        for line in lines[1:]:
            session.numeric(N.RPL_HELPTXT, shown, line)
        session.numeric(N.RPL_ENDOFHELP, shown, "End of /HELP")

    irc_HELPOP = irc_HELP
