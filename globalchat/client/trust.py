# -*- test-case-name: tests.test_integration_server -*-
"""
Which certificate to trust when the user gave neither C{--ca} nor
C{--fingerprint}: a CA-signed one for the host name, else the one recorded
in known_hosts, else a new one the user accepts (trust on first use).

Learning a certificate's fingerprint takes a TLS handshake that is made
to fail: nothing is ever sent over a connection that was not verified.
"""

from __future__ import annotations

from typing import Callable

from OpenSSL import SSL
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IHandshakeListener, IOpenSSLClientConnectionCreator
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import optionsForClientTLS
from twisted.python.failure import Failure
from zope.interface import implementer

from globalchat import tls
from globalchat.client.knownhosts import KnownHost, KnownHosts

#: A pin no certificate has: a handshake with it fails after the server's
#: certificate has been seen and recorded.
_NO_CERTIFICATE = bytes(32)


class TrustRefused(Exception):
    """
    The user did not accept a new certificate; C{str()} says what to do.
    """


@implementer(IHandshakeListener)
class _Handshake(Protocol):
    def __init__(self) -> None:
        self.done: Deferred[None] = Deferred()

    def handshakeCompleted(self) -> None:
        self.done.callback(None)
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure) -> None:
        if not self.done.called:
            self.done.errback(reason)


async def handshake(reactor, host: str, port: int, creator: IOpenSSLClientConnectionCreator,
                    timeout: float) -> None:
    """
    Complete a TLS handshake with C{host:port} and hang up, or raise why it
    failed.
    """
    protocol = _Handshake()
    endpoint = wrapClientTLS(creator, HostnameEndpoint(reactor, host, port, timeout=timeout))
    await endpoint.connect(Factory.forProtocol(lambda: protocol)).addTimeout(timeout, reactor)
    await protocol.done.addTimeout(timeout, reactor)


def untrusted(failure: Failure) -> bool:
    """
    Whether a failed handshake failed because the certificate was not
    trusted (as opposed to the network or a server that is not TLS).
    """
    if failure.type.__name__ == "VerificationError":
        return True
    return bool(failure.check(SSL.Error)) and "certificate verify failed" in failure.getErrorMessage()


async def trustCreator(
    reactor, host: str, port: int, timeout: float, knownHosts: KnownHosts,
    accept: Callable[[str], bool], clientCertificate=None,
) -> tuple[IOpenSSLClientConnectionCreator, KnownHost | None]:
    """
    Decide how to verify C{host:port}.

    @param accept: asked with the fingerprint of a certificate seen for the
        first time; says whether to trust and record it.
    @return: the connection creator, and the known_hosts entry it pins
        (for the error message if the certificate has changed).
    @param clientCertificate: shown to servers that require one.
    @raise TrustRefused: when a new certificate was not accepted.
    """
    known = knownHosts.lookup(host, port)
    if known is not None:
        return tls.PinnedCertificate(known.digest, host, clientCertificate), known
    system = optionsForClientTLS(host, clientCertificate=clientCertificate)
    try:
        await handshake(reactor, host, port, system, timeout)
        return system, None
    except Exception:
        failure = Failure()
        if not untrusted(failure):
            failure.raiseException()
    learner = tls.PinnedCertificate(_NO_CERTIFICATE, host, clientCertificate)
    try:
        await handshake(reactor, host, port, learner, timeout)
    except Exception:
        pass
    if learner.seen is None:
        failure.raiseException()
    if not accept(learner.seen):
        raise TrustRefused(
            f"the certificate of {host}:{port} ({learner.seen}) is not signed by a trusted "
            "CA and was not accepted: check that fingerprint with the server's owner, then "
            "connect with --trust-new (or --fingerprint)"
        )
    digest = tls.parseFingerprint(learner.seen)
    knownHosts.add(host, port, digest)
    return tls.PinnedCertificate(digest, host, clientCertificate), knownHosts.lookup(host, port)
