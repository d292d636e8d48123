# -*- test-case-name: tests.test_irc_modes -*-
"""
MODE, OPER and KILL: IRC's channel modes are the chat's room modes.

C{i} invite-only, C{k} key, C{m} moderated, C{t} topic lock, C{s}
secret, C{l} member limit, C{o} room operator, C{v} voice and C{b} bans
of a name are kept by L{globalchat.chat.moderation.Moderation}, the same
state the line port's C{/mode}, C{/op}, C{/voice} and C{/ban} change;
C{n} (no messages from outside) is on unless an operator lifts it.  User modes: C{i} is accepted (nobody's address is shown
anyway), C{o} comes from OPER.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.python.failure import Failure

from globalchat.chat import names
from globalchat.chat.errors import ChatError
from globalchat.chat.moderation import OUTSIDERS, parseMask
from globalchat.irc import numerics as N
from globalchat.irc.channels import ChannelCommands, need
from globalchat.irc.errors import IRCError
from globalchat.irc.message import Message, build

if TYPE_CHECKING:
    from globalchat.chat.bus import Room
    from globalchat.chat.hub import Hub
    from globalchat.irc.session import IRCSession

#: Modes without a parameter, set in the room's record.
_FLAGS = "imst"

#: Most mode changes one MODE applies (ISUPPORT MODES).
MAX_CHANGES = 4

#: Most entries a ban list shows.
MAX_BANS = 100


class ModeCommands:
    """
    MODE and OPER, bound to one hub.
    """

    def __init__(self, hub: Hub, channels: ChannelCommands) -> None:
        self._hub = hub
        self._channels = channels

    # -- OPER ------------------------------------------------------------------

    def irc_OPER(self, session: IRCSession, message: Message) -> None:
        need(message, 2)
        moderation, accounts = self._hub.moderation, self._hub.accounts
        if moderation is None or accounts is None:
            raise IRCError(N.ERR_NOOPERHOST, "No O-lines for your host")
        name, password = message.params[0], message.params[1]

        def found(account):
            if account is None or account.key not in moderation.operators:
                raise IRCError(N.ERR_NOOPERHOST, "No O-lines for your host")
            return accounts.verify(account.passwordHash, password)

        def verified(right: bool) -> None:
            if not right:
                session.strike()
                raise IRCError(N.ERR_PASSWDMISMATCH, "Password incorrect")
            moderation.oper(session)
            session.oper = True
            session.numeric(N.RPL_YOUREOPER, "You are now an IRC operator")
            session.reply(build("MODE", session.name, "+o", source=session.server.name))

        def refused(failure: Failure) -> None:
            failure.trap(IRCError)
            session.numeric(failure.value.code, *failure.value.params)

        session.waitFor(accounts.find(name).addCallback(found).addCallback(verified)
                        .addErrback(refused))

    def irc_KILL(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        moderation = self._hub.moderation
        if moderation is None or not moderation.isOperator(session):
            raise IRCError(N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        target = self._hub.bus.holder(message.params[0])
        if target is None:
            raise IRCError(N.ERR_NOSUCHNICK, message.params[0], "No such nick/channel")
        reason = message.params[1] if len(message.params) > 1 else "no reason given"
        self._hub.quit(target, f"Killed ({session.name} ({reason}))")
        target.closeWith(target.render.error(f"disconnected by {session.name}: {reason}"))
        moderation.audit(session, "kill", target.name, reason)

    def irc_WALLOPS(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        moderation = self._hub.moderation
        if moderation is None or not moderation.isOperator(session):
            raise IRCError(N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        line = build("WALLOPS", message.params[0], source=session.server.source(session.name))
        for target in self._hub.bus:
            if getattr(target, "wallops", False):
                target.send(line)
        moderation.audit(session, "wallops", "everyone", message.params[0])

    # -- MODE ------------------------------------------------------------------

    def irc_MODE(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        target = message.params[0]
        if target.startswith("#"):
            self._channel(session, self._channels.room(session, target), message.params[1:])
        else:
            self._user(session, target, message.params[1:])

    def _user(self, session: IRCSession, target: str, params: list[str]) -> None:
        if self._hub.bus.holder(target) is None:
            raise IRCError(N.ERR_NOSUCHNICK, target, "No such nick/channel")
        if names.key(target) != names.key(session.name):
            raise IRCError(N.ERR_USERSDONTMATCH, "Cannot change mode for other users")
        modes = "+i" + ("o" if session.oper else "") + ("w" if session.wallops else "") + (
            "B" if session.bot else "")
        if not params:
            session.numeric(N.RPL_UMODEIS, modes)
            return
        sign, applied = "+", ""
        for letter in params[0]:
            if letter in "+-":
                sign = letter
            elif letter == "i":
                applied += sign + letter
            elif letter in "Bw":
                setattr(session, "bot" if letter == "B" else "wallops", sign == "+")
                applied += sign + letter
            elif letter == "o" and sign == "-" and session.oper:
                session.oper = False
                self._hub.moderation.oper(session, up=False)
                applied += "-o"
            elif letter != "o":
                session.numeric(N.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
        if applied:
            session.reply(build("MODE", session.name, applied,
                                source=session.server.source(session.name)))

    def _channel(self, session: IRCSession, room: Room, params: list[str]) -> None:
        moderation = self._hub.moderation
        record = moderation.channel(room.key) if moderation is not None else None
        if not params:
            self._show(session, room, record)
            return
        changes = _parse(params)
        if all(letter == "b" and argument is None for _, letter, argument in changes):
            self._bans(session, room)
            return
        if moderation is None or record is None or not moderation.isRoomOp(session, room.key):
            raise IRCError(N.ERR_CHANOPRIVSNEEDED, f"#{room.name}", "You're not channel operator")
        applied: list[tuple[str, str, str | None]] = []
        for sign, letter, argument in changes[:MAX_CHANGES]:
            try:
                done = self._apply(session, room, sign, letter, argument)
            except IRCError as e:
                session.numeric(e.code, *e.params)
                continue
            if done is not None:
                applied.append((sign, letter, done or None))
        if applied:
            self._announce(session, room, applied)

    def _apply(self, session: IRCSession, room: Room, sign: str, letter: str,
               argument: str | None) -> str | None:
        """
        Apply one change; what the announcement shows as its argument
        (C{""} for none), or C{None} when nothing changed.
        """
        moderation = self._hub.moderation
        record = moderation.channel(room.key)
        adding = sign == "+"
        if letter in _FLAGS:
            if (letter in record.modes) == adding:
                return None
            modes = set(record.modes) | {letter} if adding else set(record.modes) - {letter}
            moderation.change(room.key, modes="".join(sorted(modes)))
            return ""
        if letter == "n":
            # Kept inverted (OUTSIDERS): +n takes the letter away.
            if (OUTSIDERS not in record.modes) == adding:
                return None
            modes = set(record.modes) - {OUTSIDERS} if adding else set(record.modes) | {OUTSIDERS}
            moderation.change(room.key, modes="".join(sorted(modes)))
            return ""
        if letter == "k":
            if adding:
                if not argument or " " in argument or "," in argument:
                    raise IRCError(N.ERR_INVALIDMODEPARAM, f"#{room.name}", "k", "*",
                                   "Invalid key: one word, no commas")
                moderation.change(room.key, modes="".join(sorted(set(record.modes) | {"k"})),
                                  roomKey=argument)
                return argument
            if "k" not in record.modes:
                return None
            moderation.change(room.key, modes=record.modes.replace("k", ""), roomKey=None)
            return "*"
        if letter == "l":
            if adding:
                if argument is None or not argument.isdigit() or int(argument) < 1:
                    raise IRCError(N.ERR_INVALIDMODEPARAM, f"#{room.name}", "l", argument or "*",
                                   "Invalid limit")
                moderation.change(room.key, modes="".join(sorted(set(record.modes) | {"l"})),
                                  limit=int(argument))
                return argument
            if "l" not in record.modes:
                return None
            moderation.change(room.key, modes=record.modes.replace("l", ""), limit=None)
            return ""
        if letter in "ov":
            return self._status(session, room, record, adding, letter, argument)
        if letter == "b":
            return self._ban(session, room, adding, argument)
        raise IRCError(N.ERR_UNKNOWNMODE, letter, "is unknown mode char to me")

    def _status(self, session: IRCSession, room: Room, record, adding: bool, letter: str,
                argument: str | None) -> str | None:
        if not argument:
            raise IRCError(N.ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
        target = self._hub.bus.holder(argument)
        if target is None:
            raise IRCError(N.ERR_NOSUCHNICK, argument, "No such nick/channel")
        if room not in target.rooms:
            raise IRCError(N.ERR_USERNOTINCHANNEL, target.name, f"#{room.name}",
                           "They aren't on that channel")
        key = names.key(target.name)
        if letter == "o" and record.founder:
            # A registered room's operators are accounts, named by its founder.
            if target.account is None:
                raise IRCError(N.ERR_INVALIDMODEPARAM, f"#{room.name}", "o", target.name,
                               "Only accounts can be operators of a registered channel")
            key = target.account
            if key == record.founder:
                return None
        field = "ops" if letter == "o" else "voices"
        current = set(getattr(record, field))
        if (key in current) == adding:
            return None
        current = current | {key} if adding else current - {key}
        self._hub.moderation.change(room.key, **{field: tuple(sorted(current))})
        return target.name

    def _ban(self, session: IRCSession, room: Room, adding: bool, argument: str | None) -> str | None:
        moderation = self._hub.moderation
        nick = (argument or "").partition("!")[0]
        try:
            mask, kind = parseMask(nick, moderation.accounts)
        except ChatError:
            raise IRCError(N.ERR_INVALIDMODEPARAM, f"#{room.name}", "b", argument or "*",
                           "Only bans of a nick (nick!*@*) are supported") from None
        if adding:
            moderation.ban(f"#{room.key} {mask}", kind, None, "", session.account or session.name)
        elif not moderation.unban(f"#{room.key} {mask}"):
            return None
        return f"{nick}!*@*"

    def _bans(self, session: IRCSession, room: Room) -> None:
        moderation = self._hub.moderation
        prefix = f"#{room.key} "
        if moderation is not None:
            shown = [ban for ban in moderation.bans() if ban.mask.startswith(prefix)]
            for ban in shown[:MAX_BANS]:
                session.numeric(N.RPL_BANLIST, f"#{room.name}", f"{ban.mask[len(prefix):]}!*@*",
                                ban.setBy or session.server.name, str(int(ban.created)))
        session.numeric(N.RPL_ENDOFBANLIST, f"#{room.name}", "End of channel ban list")

    def _show(self, session: IRCSession, room: Room, record) -> None:
        kept = record.modes if record is not None else ""
        modes = kept.replace(OUTSIDERS, "") + ("" if OUTSIDERS in kept else "n")
        params = []
        if record is not None and "k" in record.modes and record.roomKey:
            params.append(record.roomKey if room in session.rooms else "*")
        if record is not None and "l" in record.modes and record.limit is not None:
            params.append(str(record.limit))
        letters = "".join(sorted(set(modes) - set("kl"))) + "".join(
            c for c in "kl" if c in modes)
        session.numeric(N.RPL_CHANNELMODEIS, f"#{room.name}", "+" + letters, *params)
        session.numeric(N.RPL_CREATIONTIME, f"#{room.name}",
                        str(int(session.server.createdAt(room.key))))

    def _announce(self, session: IRCSession, room: Room,
                  applied: list[tuple[str, str, str | None]]) -> None:
        """
        Tell the room's members what changed: IRC clients with a MODE
        line, others with a notice.
        """
        text, arguments, sign = "", [], ""
        for change, letter, argument in applied:
            if change != sign:
                text += change
                sign = change
            text += letter
            if argument is not None:
                arguments.append(argument)
        line = build("MODE", f"#{room.name}", text, *arguments,
                     source=session.server.source(session.name))
        words = " ".join([text, *arguments])
        for member in list(room.members.values()):
            if hasattr(member, "caps"):
                member.send(line)
            else:
                member.send(member.render.notice(f"{session.name} sets mode {words} on "
                                                 f"#{room.name}"))
        self._hub.moderation.audit(session, "mode", f"#{room.name} {words}")


def _parse(params: list[str]) -> list[tuple[str, str, str | None]]:
    """
    A mode string and its arguments as (sign, letter, argument) changes.
    """
    if not params:
        return []
    arguments = list(params[1:])
    changes = []
    sign = "+"
    for letter in params[0]:
        if letter in "+-":
            sign = letter
            continue
        takes = letter in "ovbk" or (letter == "l" and sign == "+")
        argument = arguments.pop(0) if takes and arguments else None
        changes.append((sign, letter, argument))
    return changes
