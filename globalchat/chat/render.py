# -*- test-case-name: tests.test_chat_render -*-
"""
How each protocol shows the chat's events.

The hub and the bus say what happened (somebody joined, a message was
stored, an operator put somebody out); the recipient's session says how
its client wants to see it, through its L{IRender}.  A line-port client
gets C{JOIN #lobby John}, an IRC client C{:John!John@host JOIN #lobby}:
one chat, several protocols, and no protocol translating another's bytes.

A renderer holds no state of one session, so sessions that want the
same bytes share one renderer object, and a fan-out builds each
renderer's bytes once (L{RunCache}) however many members share it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Attribute, Interface, implementer

from globalchat.chat import names, wire

if TYPE_CHECKING:
    from globalchat.store.interface import Message


class IRender(Interface):
    """
    One protocol's (and one set of its options') way of showing events.
    Every method returns finished bytes, line endings included; C{b""}
    means the protocol has nothing to show for that event.
    """

    personal = Attribute(
        "Whether a message looks different to its own sender (its own ids, "
        "an echo label): then a sender's copy of a run is built for it alone.")

    def greeting(template: str, name: str) -> bytes:
        """
        The welcome once logged in as C{name} (C{template} is C{--greeting}).
        """

    def motd(name: str, lines: list[str]) -> bytes:
        """
        The message of the day (C{--motd}), shown to C{name} after the
        greeting.
        """

    def notice(text: str) -> bytes:
        """
        A word from the server that answers nothing the client asked.
        """

    def error(text: str) -> bytes:
        """
        A refusal, or why the server is hanging up.
        """

    def joined(room: str, name: str) -> bytes:
        """
        C{name} came into C{room} (both as displayed).
        """

    def parted(room: str, name: str, reason: str) -> bytes:
        """
        C{name} left C{room}.
        """

    def kicked(room: str, name: str, by: str, reason: str) -> bytes:
        """
        C{by}, an operator, put C{name} out of C{room}.
        """

    def quit(name: str, reason: str) -> bytes:
        """
        C{name} logged out of everything.
        """

    def renamed(old: str, new: str) -> bytes:
        """
        C{old} is now called C{new}.
        """

    def topic(room: str, setter: str, text: str) -> bytes:
        """
        C{room}'s topic, set by C{setter} (C{-} when it is only being shown).
        """

    def message(message: Message, where: str, own: bool) -> bytes:
        """
        A stored message shown live.

        @param where: the room's displayed name, or the recipient's for a
            private message.
        @param own: whether the session it is for sent it.
        """

    def history(message: Message, where: str, own: bool) -> bytes:
        """
        A stored message shown again (a backlog, a resume, a kept private
        message).
        """


@implementer(IRender)
class LineRender:
    """
    The line protocol (L{globalchat.chat.wire}), plain or with message ids.
    """

    def __init__(self, tagged: bool) -> None:
        self.personal = tagged

    def greeting(self, template: str, name: str) -> bytes:
        return wire.greeting(template, name)

    def motd(self, name: str, lines: list[str]) -> bytes:
        return b"".join(wire.info(text) for text in lines)

    def notice(self, text: str) -> bytes:
        return wire.info(text)

    def error(self, text: str) -> bytes:
        return wire.error(text)

    def joined(self, room: str, name: str) -> bytes:
        return wire.joined(room, name)

    def parted(self, room: str, name: str, reason: str) -> bytes:
        return wire.parted(room, name, reason)

    def kicked(self, room: str, name: str, by: str, reason: str) -> bytes:
        return wire.parted(room, name, f"kicked by {by}" + (f": {reason}" if reason else ""))

    def quit(self, name: str, reason: str) -> bytes:
        return wire.quit(name, reason)

    def renamed(self, old: str, new: str) -> bytes:
        return wire.renamed(old, new)

    def topic(self, room: str, setter: str, text: str) -> bytes:
        return wire.topic(room, setter, text)

    def message(self, message: Message, where: str, own: bool) -> bytes:
        return self._tag(message, own, _plain(message, where))

    def history(self, message: Message, where: str, own: bool) -> bytes:
        return self._tag(message, own, wire.history(message.time, _plain(message, where)))

    def _tag(self, message: Message, own: bool, data: bytes) -> bytes:
        if not self.personal:
            return data
        return wire.tagged(wire.messageTags(message, own), data)


def _plain(message: Message, where: str) -> bytes:
    if message.room is None:
        text = message.text
        if message.kind == "privact":
            text = f"* {message.sender} {text}"
        return wire.private(message.sender, where, text)
    if message.kind == "act":
        return wire.action(where, message.sender, message.text)
    return wire.message(where, message.sender, message.text)


#: The line protocol's two renderers: most clients, and those that asked
#: for message ids (C{@tags}).
PLAIN = LineRender(tagged=False)
TAGGED = LineRender(tagged=True)


class RunCache:
    """
    The bytes of one run of a room's messages, built once per renderer for
    a fan-out, for everybody who sees the run whole and not as its sender.
    """

    __slots__ = ("run", "where", "_built")

    def __init__(self, run: list[Message], where: str) -> None:
        self.run = run
        self.where = where
        self._built: dict[int, bytes] = {}

    def shown(self, render: IRender, name: str,
              ignoring: set[str] | None) -> tuple[list[Message], bytes]:
        """
        What the member called C{name} sees of the run, and its bytes: the
        shared block unless it ignores some senders or sent some of it.
        """
        run = self.run
        if ignoring:
            kept = [m for m in run if names.key(m.sender) not in ignoring]
            run = run if len(kept) == len(run) else kept
        if run is self.run and not (render.personal and any(m.sender == name for m in run)):
            return run, self.block(render)
        return run, b"".join(render.message(m, self.where, m.sender == name) for m in run)

    def block(self, render: IRender) -> bytes:
        """
        The whole run as C{render} shows it to a member who sent none of it.
        """
        data = self._built.get(id(render))
        if data is None:
            data = self._built[id(render)] = b"".join(
                render.message(m, self.where, False) for m in self.run)
        return data
