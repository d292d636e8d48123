# -*- test-case-name: tests.test_irc_session -*-
"""
Refusals as IRC says them: a numeric for each rule of the chat.

The hub refuses with a L{ChatError} whose C{reason} names the rule;
here each rule gets its numeric, so that an IRC client learns a taken
nick from C{433} and a full channel from C{471}, not from prose.
"""

from __future__ import annotations

from globalchat.chat.errors import ChatError
from globalchat.irc import numerics as N


class IRCError(Exception):
    """
    Answer the command with the numeric C{code} and C{params} (after the
    client's nick).
    """

    def __init__(self, code: str, *params: str) -> None:
        super().__init__(code, *params)
        self.code = code
        self.params = params


#: The numeric for each reason a hub refusal gives.
_NUMERICS = {
    "bad-name": N.ERR_ERRONEUSNICKNAME,
    "name-taken": N.ERR_NICKNAMEINUSE,
    "name-locked": N.ERR_NICKNAMEINUSE,
    "bad-room": N.ERR_NOSUCHCHANNEL,
    "no-room": N.ERR_NOSUCHCHANNEL,
    "invite-only": N.ERR_INVITEONLYCHAN,
    "key": N.ERR_BADCHANNELKEY,
    "full": N.ERR_CHANNELISFULL,
    "banned-room": N.ERR_BANNEDFROMCHAN,
    "too-many-rooms": N.ERR_TOOMANYCHANNELS,
    "not-in-room": N.ERR_NOTONCHANNEL,
    "not-op": N.ERR_CHANOPRIVSNEEDED,
    "not-oper": N.ERR_NOPRIVILEGES,
    "no-user": N.ERR_NOSUCHNICK,
    "muted": N.ERR_CANNOTSENDTOCHAN,
    "moderated": N.ERR_CANNOTSENDTOCHAN,
    "banned": N.ERR_YOUREBANNEDCREEP,
}


def refusal(error: ChatError, target: str) -> IRCError | None:
    """
    The numeric that answers C{error} about C{target} (a nick or a
    channel), or C{None} when the rule has none (then a NOTICE says it).
    """
    code = _NUMERICS.get(error.reason or "")
    if code is None:
        return None
    if code == N.ERR_YOUREBANNEDCREEP:
        return IRCError(code, str(error))
    return IRCError(code, target, str(error))
