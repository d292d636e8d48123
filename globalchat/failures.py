# -*- test-case-name: tests.test_failures -*-
"""
Why a connection to a globalchat server failed, in one line that says
what to try.

C{globalchat-client} tells its user, and a probe helper
(L{globalchat.expose.probe}) tells the one who asked for the probe; both
mean the same failures, so both say them the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from OpenSSL import SSL
from twisted.internet import error as netError
from twisted.python.failure import Failure

from globalchat import tls


class RecordedPin(Protocol):
    """
    Where the certificate a connection was pinned to is recorded (a
    known_hosts entry): the line a user removes once a server's new
    certificate is known to be right.
    """

    path: Path
    line: int


def explain(
    failure: Failure,
    where: str,
    pinned: tls.PinnedCertificate | None = None,
    heardFrom: bool = True,
    known: RecordedPin | None = None,
) -> str:
    """
    One line telling the user what went wrong and what to try.

    @param pinned: the fingerprint check, if the connection had one.
    @param heardFrom: whether the server sent anything before the failure;
        a server that hangs up without a word on a plaintext connection is
        most often a TLS port.
    @param known: the known_hosts entry the pin came from, if it did.
    """
    message = failure.getErrorMessage()
    if failure.check(SSL.Error):
        if known is not None and pinned is not None and pinned.seen is not None:
            return (
                f"WARNING: THE CERTIFICATE OF {where} HAS CHANGED: it is now {pinned.seen}, "
                f"not the one recorded in {known.path} line {known.line}. Someone may be "
                "intercepting the connection, or the server made a new certificate. Ask its "
                f"owner; if the new one is right, remove line {known.line} of {known.path} "
                "and connect again"
            )
        if pinned is not None and pinned.seen is not None:
            expected = tls.formatFingerprint(pinned.digest)
            return (
                f"the certificate of {where} is {pinned.seen}, not the pinned "
                f"{expected}: someone may be intercepting the connection, or the "
                "server made a new certificate (ask its owner for the fingerprint "
                "it logs)"
            )
        if "wrong version number" in message or "record layer failure" in message:
            return f"{where} does not speak TLS on this port: leave out --tls"
        if "certificate required" in message or "handshake failure" in message:
            return (
                f"{where} requires a client certificate it trusts: connect with --cert and "
                "--key (its owner can make them with globalchat-cert)"
            )
        if "certificate verify failed" in message:
            return (
                f"the certificate of {where} is not signed by a trusted CA: for a "
                "server with a self-made certificate, use --fingerprint with the "
                "fingerprint the server logs"
            )
        return f"TLS with {where} failed: {message}"
    if failure.type.__name__ == "VerificationError":
        return (
            f"the certificate of {where} is not valid for that name ({message}): "
            "connect with a name the certificate lists, or use --fingerprint"
        )
    if failure.check(netError.ConnectionRefusedError):
        return (
            f"{where} refused the connection: is the server running, and is the "
            "port forwarded to it?"
        )
    if failure.check(netError.DNSLookupError):
        return f"cannot find {where}: check the host name"
    if failure.check(netError.TimeoutError):
        return (
            f"no answer from {where}: the host may be down, or a firewall or "
            "router may be dropping the port"
        )
    if failure.check(netError.ConnectionDone, netError.ConnectionLost):
        if not heardFrom:
            return (
                f"{where} closed the connection without a word: if it is a TLS "
                "port, add --tls or --fingerprint"
            )
        return f"{where} closed the connection"
    return f"connection to {where} failed: {message}"
