# -*- test-case-name: tests.test_store_accounts -*-
"""
What the chat needs kept about people and rooms, whichever store keeps
it: accounts and the certificates bound to them, registered rooms, bans
and the record of moderation.

Both stores implement L{IAccountStore} beside
L{globalchat.store.interface.IMessageStore}, so accounts persist in the
same file as the history, and C{--no-history} keeps them in memory with
the same behaviour.  The store only keeps what it is given: folding
names, hashing passwords and deciding who may do what are the chat's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred
from zope.interface import Interface

#: The kinds of mask a ban can have.
BAN_KINDS = frozenset({"account", "name", "address", "network"})

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def checkFingerprint(fingerprint: str) -> str:
    """
    Refuse a certificate fingerprint not in the one form stored, so that
    the same certificate can never be bound twice under two spellings.

    @param fingerprint: the SHA-256 of a certificate, as lowercase hex.
    @return: C{fingerprint}.
    @raise ValueError: if it is not 64 lowercase hex digits; the chat
        reads what users type into this form before it asks the store.
    """
    if _FINGERPRINT.fullmatch(fingerprint) is None:
        raise ValueError(f"not a lowercase hex SHA-256 fingerprint: {fingerprint!r}")
    return fingerprint


@dataclass(frozen=True, slots=True)
class Account:
    """
    A registered name.

    @ivar key: the name's key (folded), unique.
    @ivar display: the name as its owner registered it.
    @ivar skeleton: the key's confusables skeleton, unique too, so that a
        look-alike of an account cannot be registered.
    @ivar passwordHash: the hash the login check verifies; handed only to
        that check, and left out of C{repr()} so no log can show it.
    @ivar created: UTC seconds since the epoch.
    @ivar operator: whether the account may use the operator commands.
    """

    key: str
    display: str
    skeleton: str
    passwordHash: str = field(repr=False)
    created: float
    operator: bool = False


@dataclass(frozen=True, slots=True)
class RoomRecord:
    """
    A registered room, kept across restarts.

    @ivar key: the room's name key.
    @ivar display: the room's name as shown.
    @ivar founder: the key of the account that registered it.
    @ivar ops: account keys of its operators, besides the founder.
    @ivar voices: account keys that may speak when it is moderated.
    @ivar modes: one letter per mode set, e.g. C{"imts"}.
    @ivar roomKey: the password to join it, or C{None}.
    @ivar topic: its topic, C{""} for none.
    @ivar invited: account keys invited while it is invite-only.
    @ivar limit: the most members it takes (mode C{l}), or C{None}; kept
        in memory only, not across restarts.
    """

    key: str
    display: str
    founder: str
    ops: tuple[str, ...] = ()
    voices: tuple[str, ...] = ()
    modes: str = ""
    roomKey: str | None = None
    topic: str = ""
    invited: tuple[str, ...] = ()
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Ban:
    """
    Who may not connect or log in, until when.

    @ivar mask: what is banned: an account key, a name key, an address or
        a network in CIDR notation; one ban per mask.
    @ivar kind: which of those C{mask} is, one of L{BAN_KINDS}.
    @ivar until: UTC seconds when it ends, or C{None} for ever.
    @ivar reason: why, as the operator gave it.
    @ivar setBy: the account key of the operator who set it.
    @ivar created: UTC seconds when it was set.
    """

    mask: str
    kind: str
    until: float | None
    reason: str
    setBy: str
    created: float

    def __post_init__(self) -> None:
        # Checked here so both stores refuse the same bans.
        if self.kind not in BAN_KINDS:
            raise ValueError(f"not a kind of ban: {self.kind!r}")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """
    One moderation action, kept so operators can see later who did what.

    @ivar time: UTC seconds since the epoch.
    @ivar actor: the account key of whoever did it.
    @ivar action: what was done, e.g. C{"kick"} or C{"ban"}.
    @ivar target: to whom or what.
    @ivar reason: why, C{""} if no reason was given.
    """

    time: float
    actor: str
    action: str
    target: str
    reason: str = ""


class IAccountStore(Interface):
    """
    Accounts, certificate bindings, registered rooms, bans and the audit
    log.  Every call answers with a L{Deferred}, and calls are carried
    out in the order they were made, together with those of
    L{globalchat.store.interface.IMessageStore} on the same store: a
    change is seen by every call made after it.  A call that changes
    something fires with C{False} when there was nothing to change.
    """

    def account(key: str) -> Deferred[Account | None]:
        """
        The account registered under C{key}, or C{None}.
        """

    def accountBySkeleton(skeleton: str) -> Deferred[Account | None]:
        """
        The account whose name looks like C{skeleton}, or C{None}.
        """

    def createAccount(account: Account) -> Deferred[bool]:
        """
        Register C{account}; C{False}, and nothing stored, if its key or
        its skeleton is already an account's.
        """

    def setPassword(key: str, passwordHash: str) -> Deferred[bool]:
        """
        Replace the password hash of the account C{key}.
        """

    def setOperator(key: str, flag: bool) -> Deferred[bool]:
        """
        Make the account C{key} an operator, or no longer one.
        """

    def deleteAccount(key: str) -> Deferred[bool]:
        """
        Remove the account C{key} and the certificates bound to it, so a
        certificate can never log in to a later account of the same name.
        """

    def accounts() -> Deferred[list[Account]]:
        """
        Every account, by key.
        """

    def bindCertificate(key: str, fingerprint: str) -> Deferred[bool]:
        """
        Let the certificate C{fingerprint} log in to the account C{key};
        C{False} if there is no such account or the certificate is bound
        already, to it or to another: a certificate stands for one
        account.

        @raise ValueError: see L{checkFingerprint}.
        """

    def unbindCertificate(key: str, fingerprint: str) -> Deferred[bool]:
        """
        Take the certificate C{fingerprint} from the account C{key}.

        @raise ValueError: see L{checkFingerprint}.
        """

    def certificates(key: str) -> Deferred[list[str]]:
        """
        The fingerprints bound to the account C{key}, sorted.
        """

    def certificateOwner(fingerprint: str) -> Deferred[str | None]:
        """
        The key of the account C{fingerprint} is bound to, or C{None}.

        @raise ValueError: see L{checkFingerprint}.
        """

    def saveRoom(record: RoomRecord) -> Deferred[None]:
        """
        Register the room C{record.key}, or replace what is kept of it.
        """

    def dropRoom(key: str) -> Deferred[bool]:
        """
        Forget the registration of the room C{key}.
        """

    def rooms() -> Deferred[list[RoomRecord]]:
        """
        Every registered room, by key.
        """

    def addBan(ban: Ban) -> Deferred[None]:
        """
        Keep C{ban}, replacing any ban of the same mask: banning again
        changes its duration and reason.
        """

    def removeBan(mask: str) -> Deferred[bool]:
        """
        Lift the ban of C{mask}.
        """

    def bans(now: float) -> Deferred[list[Ban]]:
        """
        The bans in force at C{now}, oldest first; those that ended at or
        before C{now} are deleted, so none outlives its time across a
        restart either.
        """

    def audit(event: AuditEvent) -> Deferred[None]:
        """
        Keep C{event} in the audit log.
        """

    def auditLog(limit: int) -> Deferred[list[AuditEvent]]:
        """
        The last C{limit} events in the order they were kept, newest last.
        """
