# -*- test-case-name: tests.test_tls -*-
"""
TLS for people who have never made a certificate.

A server started with C{--port ssl:12345} and no key gets a self-signed
certificate made and kept in its data directory, and logs the certificate's
SHA-256 fingerprint: the one thing a friend needs to connect safely with
C{globalchat-client --fingerprint}.  The client side checks either the
usual CA chain and host name, or exactly that fingerprint.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL, crypto
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.internet.ssl import CertificateOptions
from zope.interface import implementer

CERTIFICATE_FILE = "server.crt"
KEY_FILE = "server.key"

#: A self-made certificate is replaced by hand, not by a CA, so make it
#: last; ten years is what most self-hosting guides use.
VALIDITY = datetime.timedelta(days=3650)

_ESCAPED_COLON = re.compile(r"(?<!\\):")

#: The parameters of an C{ssl:} server endpoint that a C{tcp:} one lacks.
_TLS_PARAMETERS = frozenset({"privateKey", "certKey", "sslmethod", "extraCertChain", "dhParameters"})


def fingerprint(certificatePEM: bytes) -> str:
    """
    The SHA-256 fingerprint of a PEM certificate as C{SHA256:AB:CD:...},
    the same hex that C{openssl x509 -fingerprint -sha256} prints.
    """
    cert = x509.load_pem_x509_certificate(certificatePEM)
    return formatFingerprint(cert.fingerprint(hashes.SHA256()))


def certificateDigest(certificate: crypto.X509) -> str:
    """
    A certificate's SHA-256 fingerprint as lowercase hex, the form kept
    for certificates bound to accounts.
    """
    return certificate.digest("sha256").decode("ascii").replace(":", "").lower()


def formatFingerprint(digest: bytes) -> str:
    """
    Format a raw SHA-256 digest the way it is shown to users.
    """
    return "SHA256:" + ":".join(f"{b:02X}" for b in digest)


def parseFingerprint(text: str) -> bytes:
    """
    Read a SHA-256 fingerprint as users paste it: with or without the
    C{SHA256:} prefix, colons, spaces, in either case.

    @raise ValueError: if it is not 32 bytes of hex.
    """
    cleaned = text.strip()
    if cleaned.upper().startswith("SHA256:"):
        cleaned = cleaned[len("SHA256:"):]
    cleaned = re.sub(r"[\s:]", "", cleaned)
    try:
        digest = bytes.fromhex(cleaned)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise ValueError(
            f"not a SHA-256 fingerprint: {text!r} (expected 64 hex digits)"
        )
    return digest


def _writePrivate(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def issueCertificate(
    certificatePath: Path,
    keyPath: Path,
    commonName: str,
    hostnames: list[str] = (),
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    authority: bool = False,
    client: bool = False,
) -> None:
    """
    Write a new EC P-256 key (mode 0600, never over an existing file) and
    a certificate for it.

    @param hostnames: DNS names or IP addresses it is valid for (a server).
    @param issuer: the CA certificate and key that sign it; self-signed
        without one.
    @param authority: make a CA certificate, able to sign others.
    @param client: a client certificate (TLS client authentication), whose
        common name is the user's name.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True)
    )
    if hostnames:
        alternatives: list[x509.GeneralName] = []
        for host in hostnames:
            try:
                alternatives.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                alternatives.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
    if authority:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    _writePrivate(
        keyPath,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    certificatePath.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def createSelfSigned(certificatePath: Path, keyPath: Path, hostnames: list[str]) -> None:
    """
    Write a new key and a self-signed server certificate naming
    C{hostnames}.
    """
    issueCertificate(certificatePath, keyPath, hostnames[0], hostnames)


def requireClientCertificates(endpoint, authority: bytes) -> None:
    """
    Make a parsed C{ssl:} server endpoint demand a client certificate
    signed by the CA certificate C{authority} (PEM).

    Twisted's C{ssl:} strings have no option for it, so the endpoint's
    context factory is replaced by one with the same key and certificate
    that also verifies clients.
    """
    old = endpoint._sslContextFactory
    endpoint._sslContextFactory = CertificateOptions(
        privateKey=old.privateKey,
        certificate=old.certificate,
        extraCertChain=old.extraCertChain,
        verify=True,
        caCerts=[crypto.load_certificate(crypto.FILETYPE_PEM, authority)],
        requireCertificate=True,
    )


def askClientCertificates(endpoint) -> None:
    """
    Make a parsed C{ssl:} server endpoint ask each client for a
    certificate and take any, or none: an account's bound fingerprint, not
    a CA, is what makes one count (C{/cert add}).
    """
    endpoint._sslContextFactory = _AnyClientCertificate(endpoint._sslContextFactory)


class _AnyClientCertificate:
    """
    A context factory that asks for, but does not check, client
    certificates.
    """

    def __init__(self, wrapped) -> None:
        self._wrapped = wrapped
        self._context: SSL.Context | None = None

    def getContext(self) -> SSL.Context:
        if self._context is None:
            context = self._wrapped.getContext()
            context.set_verify(SSL.VERIFY_PEER, lambda connection, x509, error, depth, ok: True)
            # Needed by OpenSSL whenever it asks clients for certificates.
            context.set_session_id(b"globalchat")
            self._context = context
        return self._context


def commonName(certificate: crypto.X509) -> str | None:
    """
    The common name of a (client) certificate, if it has one.
    """
    names = certificate.to_cryptography().subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def defaultHostnames() -> list[str]:
    """
    The names a self-made certificate is issued for: this machine's host
    name and C{localhost}.
    """
    names = [socket.gethostname(), "localhost"]
    return list(dict.fromkeys(n for n in names if n))


def ensureCertificate(dataDir: Path) -> tuple[Path, Path, bool]:
    """
    Make sure C{dataDir} holds a certificate and key, creating them the
    first time.

    @return: the certificate path, the key path, and whether they were
        created now.
    @raise OSError: when the directory or files cannot be made or read.
    """
    dataDir.mkdir(mode=0o700, parents=True, exist_ok=True)
    certificatePath = dataDir / CERTIFICATE_FILE
    keyPath = dataDir / KEY_FILE
    if certificatePath.exists() and keyPath.exists():
        return certificatePath, keyPath, False
    if certificatePath.exists() != keyPath.exists():
        present = certificatePath if certificatePath.exists() else keyPath
        raise OSError(
            f"{present} exists without its pair; move it away to make a new "
            "certificate, or name both with privateKey= and certKey="
        )
    createSelfSigned(certificatePath, keyPath, defaultHostnames())
    return certificatePath, keyPath, True


def _endpointArguments(description: str) -> tuple[str, list[str]]:
    parts = _ESCAPED_COLON.split(description)
    return parts[0], parts[1:]


def _escape(path: Path) -> str:
    return str(path).replace("\\", "\\\\").replace(":", "\\:")


def needsCertificate(description: str) -> bool:
    """
    Whether C{description} is an C{ssl:} server endpoint that names no key
    or certificate, and so needs one made for it.
    """
    kind, arguments = _endpointArguments(description)
    if kind.lower() != "ssl":
        return False
    keys = {a.split("=", 1)[0] for a in arguments if "=" in a}
    return not keys & {"privateKey", "certKey"}


def withoutTLS(description: str) -> str:
    """
    The C{tcp:} endpoint an C{ssl:} one listens on: what can be checked of
    it before its certificate is made.
    """
    _, arguments = _endpointArguments(description)
    kept = [a for a in arguments if a.split("=", 1)[0] not in _TLS_PARAMETERS]
    return ":".join(["tcp", *kept])


def certificateFor(description: str) -> Path | None:
    """
    The certificate file an C{ssl:} endpoint will serve, or C{None} for
    other endpoints.
    """
    kind, arguments = _endpointArguments(description)
    if kind.lower() != "ssl":
        return None
    values = dict(a.split("=", 1) for a in arguments if "=" in a)
    named = values.get("certKey") or values.get("privateKey") or "server.pem"
    return Path(named.replace("\\:", ":").replace("\\\\", "\\"))


def withCertificate(description: str, certificatePath: Path, keyPath: Path) -> str:
    """
    Add C{privateKey=} and C{certKey=} to an C{ssl:} endpoint description.
    """
    return (
        f"{description}:privateKey={_escape(keyPath)}"
        f":certKey={_escape(certificatePath)}"
    )


@implementer(IOpenSSLClientConnectionCreator)
class PinnedCertificate:
    """
    Client TLS that trusts exactly one certificate, by its SHA-256
    fingerprint, instead of a CA: how a friend connects to a server with a
    self-made certificate without being open to a man in the middle.

    @ivar digest: the pinned SHA-256 digest, or C{None} to accept any
        certificate and only record it (a reachability probe, which reports
        what it saw rather than trusting it).
    @ivar seen: the fingerprint the server presented, once it has, so a
        mismatch can be reported.
    """

    def __init__(self, digest: bytes | None, hostname: str, clientCertificate=None) -> None:
        """
        @param clientCertificate: a L{twisted.internet.ssl.PrivateCertificate}
            to show a server that requires one, or C{None}.
        """
        self.digest = digest
        self._hostname = hostname
        self.seen: str | None = None
        self._context = SSL.Context(SSL.TLS_METHOD)
        self._context.set_min_proto_version(SSL.TLS1_2_VERSION)
        self._context.set_verify(SSL.VERIFY_PEER, self._verify)
        if clientCertificate is not None:
            self._context.use_certificate(clientCertificate.original)
            self._context.use_privatekey(clientCertificate.privateKey.original)

    def _verify(
        self, connection: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int
    ) -> bool:
        if depth != 0:
            # Only the server's own certificate is pinned; the chain above
            # it, if any, does not matter.
            return True
        digest = cert.to_cryptography().fingerprint(hashes.SHA256())
        self.seen = formatFingerprint(digest)
        return self.digest is None or digest == self.digest

    def clientConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        connection = SSL.Connection(self._context, None)
        connection.set_app_data(tlsProtocol)
        try:
            ipaddress.ip_address(self._hostname)
        except ValueError:
            connection.set_tlsext_host_name(self._hostname.encode("idna"))
        return connection
