"""
The real C{twistd globalchat} with the real C{globalchat-client} and raw
sockets, on 127.0.0.1.
"""

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.processes import (
    RawClient, Server, client, command, environment, twistd, untagged,
)

GREETING = "Hello Good morning !!!! ::: John"


class PlainTests(SynchronousTestCase):
    """
    A server on one plain TCP port.
    """

    def setUp(self):
        self.server = Server(self, "--port", "tcp:0:interface=127.0.0.1",
                             "--max-line-length", "64")
        self.port = str(self.server.ports[0])

    def test_seedExample(self):
        """
        C{echo John | globalchat-client 127.0.0.1 PORT} prints the greeting
        and exits 0.
        """
        result = client("127.0.0.1", self.port, input=b"John\n")
        self.assertEqual((result.returncode, result.stdout, result.stderr),
                         (0, (GREETING + "\n").encode(), b""))

    def test_clientAndRawSocketChat(self):
        """
        A raw-socket user and a client user chat: the raw user sees the
        client arrive, speak and leave; the client prints its own lines
        as confirmations.
        """
        ann = RawClient(self, self.server.ports[0])
        ann.send(b"Ann\r\n")
        self.assertEqual(ann.readLines(2), ["Hello Good morning !!!! ::: Ann", "JOIN #lobby Ann"])
        result = client("127.0.0.1", self.port, "--name", "John", input=b"hello Ann\nbye\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.decode().splitlines(),
                         [GREETING, "#lobby John joined", "#lobby <John> hello Ann",
                          "#lobby <John> bye"])
        self.assertEqual(ann.readLines(4), [
            "JOIN #lobby John", "MSG #lobby <John> hello Ann", "MSG #lobby <John> bye",
            "QUIT John connection closed"])
        ann.send(b"anyone?\n")
        self.assertEqual(ann.readLine(), "MSG #lobby <Ann> anyone?")

    def test_clientReportsErrors(self):
        """
        The client prints the server's errors and exits 1 when a line was
        refused.
        """
        result = client("127.0.0.1", self.port, input=b"John\n" + b"y" * 100 + b"\nok\n")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout.decode().splitlines(),
                         [GREETING, "#lobby John joined", "error: line too long (max 64 bytes)",
                          "#lobby <John> ok"])

    def test_plainClientOnPlainPortWithTLS(self):
        """
        C{--tls} against a plaintext port is one clear line, exit 1.
        """
        result = client("127.0.0.1", self.port, "--tls", input=b"John\n")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, b"")
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertIn(b"does not speak TLS", result.stderr)
        self.server.waitFor(re.compile(rb"tried TLS on a plaintext port"))

    def test_halfOpenConnectionLogged(self):
        """
        A client that disconnects mid-line, before a name, leaves only a
        log line; the server carries on.
        """
        raw = RawClient(self, self.server.ports[0])
        raw.send(b"Joh")
        raw.socket.close()
        result = client("127.0.0.1", self.port, input=b"John\n")
        self.assertEqual(result.stdout.decode(), GREETING + "\n")
        self.assertNotIn(b"Traceback", self.server.output)

    def test_portInUse(self):
        """
        A second server on a port in use exits 1 with one line on
        standard error, before any log line.
        """
        result = twistd("-n", "--pidfile=", "globalchat", "--port",
                        f"tcp:{self.port}:interface=127.0.0.1")
        self.assertEqual((result.returncode, result.stdout), (1, b""))
        [line] = result.stderr.decode().splitlines()
        self.assertTrue(line.startswith(
            f"globalchat: cannot listen on tcp:{self.port}:interface=127.0.0.1: "
            "Address already in use"), line)

    def test_refusedNameNotReplaced(self):
        """
        A name the server refuses, given with --name or as the first
        piped line, ends the client with the server's reason in one line:
        the next line is chat, never sent as a name.
        """
        ann = RawClient(self, self.server.ports[0])
        ann.send(b"Ann\n")
        ann.readLines(2)
        for args, input, refused in [
            (["--name", "bad name"], b"hi\n", "the name bad name: invalid name 'bad name'"),
            ([], b"bad name\nhi\n", "the name bad name: invalid name 'bad name'"),
            (["--name", "ann"], b"hi\n", "the name ann: the name ann is taken"),
        ]:
            result = client("127.0.0.1", self.port, *args, input=input)
            self.assertEqual((result.returncode, result.stdout), (1, b""))
            line = result.stderr.decode()
            self.assertEqual(len(line.splitlines()), 1, line)
            self.assertTrue(line.startswith(
                f"globalchat-client: 127.0.0.1:{self.port} refused {refused}"), line)
            self.assertTrue(line.endswith(" (nothing else was sent)\n"), line)
        self.assertNotIn(b"logged in as hi", self.server.output)
        ann.send(b"/who\n")
        self.assertEqual(ann.readLine(), "WHO #lobby Ann")


class TLSTests(SynchronousTestCase):
    """
    A server with a self-made certificate on an C{ssl:} port.
    """

    def setUp(self):
        self.server = Server(self, "--port", "ssl:0:interface=127.0.0.1")
        self.port = str(self.server.ports[0])

    def test_pinnedFingerprint(self):
        """
        The fingerprint the server logs lets the client connect.
        """
        result = client("127.0.0.1", self.port, "--fingerprint", self.server.fingerprint,
                        input=b"John\n")
        self.assertEqual((result.returncode, result.stdout.decode()), (0, GREETING + "\n"),
                         result.stderr)

    def test_wrongFingerprint(self):
        """
        Another fingerprint is refused loudly, nothing is sent.
        """
        result = client("127.0.0.1", self.port, "--fingerprint", "AB" * 32, input=b"John\n")
        self.assertEqual(result.returncode, 1)
        self.assertIn(self.server.fingerprint.encode(), result.stderr)
        self.assertIn(b"not the pinned", result.stderr)
        self.assertNotIn(b"logged in as John", self.server.output)

    def test_untrustedWithoutPin(self):
        """
        A self-signed certificate is not trusted on the system CAs alone.
        """
        result = client("localhost", self.port, "--tls", input=b"John\n")
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"--fingerprint", result.stderr)

    def test_trustOnFirstUse(self):
        """
        A script refuses a new self-signed certificate unless told
        --trust-new, which records it; later runs trust it without asking.
        """
        config = Path(self.mktemp()).resolve()
        refused = client("localhost", self.port, "--tls", input=b"John\n", config=config)
        self.assertEqual(refused.returncode, 1)
        self.assertIn(self.server.fingerprint.encode(), refused.stderr)
        self.assertIn(b"--trust-new", refused.stderr)
        self.assertFalse((config / "globalchat" / "known_hosts").exists())
        trusted = client("localhost", self.port, "--tls", "--trust-new", input=b"John\n",
                         config=config)
        self.assertEqual(trusted.stdout.decode(), GREETING + "\n", trusted.stderr)
        self.assertEqual((config / "globalchat" / "known_hosts").read_text(),
                         f"localhost:{self.port} {self.server.fingerprint}\n")
        again = client("localhost", self.port, "--tls", input=b"John\n", config=config)
        self.assertEqual((again.returncode, again.stdout.decode()), (0, GREETING + "\n"))

    def test_changedCertificate(self):
        """
        A certificate other than the recorded one is refused loudly, naming
        the file and line to remove.
        """
        config = Path(self.mktemp()).resolve()
        known = config / "globalchat" / "known_hosts"
        known.parent.mkdir(parents=True)
        known.write_text(f"other:1 {'SHA256:' + ':'.join(['00'] * 32)}\n"
                         f"localhost:{self.port} {'SHA256:' + ':'.join(['AB'] * 32)}\n")
        result = client("localhost", self.port, "--tls", input=b"John\n", config=config)
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"HAS CHANGED", result.stderr)
        self.assertIn(f"remove line 2 of {known}".encode(), result.stderr)
        self.assertNotIn(b"logged in as John", self.server.output)

    def test_caAndHostname(self):
        """
        With the certificate as its own CA, the host name it names is
        accepted and another is refused.
        """
        cert = str(self.server.dataDir / "server.crt")
        good = client("localhost", self.port, "--ca", cert, input=b"John\n")
        self.assertEqual(good.stdout.decode(), GREETING + "\n", good.stderr)
        bad = client("127.0.0.1", self.port, "--ca", cert, input=b"John\n")
        self.assertEqual(bad.returncode, 1)
        self.assertIn(b"not valid for that name", bad.stderr)

    def test_plaintextOnTLSPortLogged(self):
        """
        A client speaking plaintext to the TLS port gets a clear line, and
        the server logs the failed handshake as a security event.
        """
        result = client("127.0.0.1", self.port, input=b"John\n")
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"add --tls", result.stderr)
        self.server.waitFor(re.compile(rb"failed the TLS handshake"))

    def test_certificateReused(self):
        """
        A restart reuses the certificate: the fingerprint stays the same.
        """
        first = self.server.fingerprint
        self.server.stop()
        again = Server(self, "--port", "ssl:0:interface=127.0.0.1", dataDir=self.server.dataDir)
        self.assertEqual(again.fingerprint, first)
        self.assertNotIn(b"created a self-signed", again.output)


class StartupTests(SynchronousTestCase):
    """
    Bad configuration ends twistd at once with one line.
    """

    def assertOneLineError(self, result, expected):
        output = (result.stdout + result.stderr).decode()
        self.assertEqual(result.returncode, 1, output)
        self.assertNotIn("Traceback", output)
        self.assertIn(expected, output.strip().splitlines()[-1])

    def test_badPort(self):
        """
        An unparsable endpoint.
        """
        self.assertOneLineError(
            twistd("-n", "--pidfile=", "globalchat", "--port", "nonsense:1"),
            "globalchat: bad --port 'nonsense:1'",
        )

    def test_unknownOption(self):
        """
        A mistyped option: one line with the option probably meant and
        where the help is, not the whole help.
        """
        result = twistd("-n", "--pidfile=", "globalchat", "--portt", "tcp:0")
        self.assertEqual((result.returncode, result.stdout), (1, b""))
        self.assertEqual(result.stderr.decode(), "globalchat: option --portt not recognized; "
                         "did you mean --port? (see twistd globalchat --help)\n")

    def test_unreadableKey(self):
        """
        A key file that is not there.
        """
        self.assertOneLineError(
            twistd("-n", "--pidfile=", "globalchat", "--port", "ssl:0:privateKey=/no/such.pem"),
            "/no/such.pem",
        )


class DaemonTests(SynchronousTestCase):
    """
    C{twistd globalchat} without C{-n} runs in the background.
    """

    def test_daemonizedTLS(self):
        """
        The daemon serves TLS with a certificate it made itself and stops
        on SIGTERM.
        """
        work = Path(self.mktemp()).resolve()
        work.mkdir()
        pidfile, logfile = work / "twistd.pid", work / "twistd.log"
        result = twistd("--pidfile", str(pidfile), "--logfile", str(logfile),
                        "globalchat", "--data-dir", str(work / "data"),
                        "--port", "ssl:0:interface=127.0.0.1")
        self.assertEqual(result.returncode, 0, result.stderr)
        pid = int(pidfile.read_text())
        self.addCleanup(self.stopDaemon, pid)
        deadline = time.monotonic() + 10
        while b"listening on" not in logfile.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = logfile.read_bytes()
        port = re.search(rb"listening on 127.0.0.1:(\d+)", log).group(1).decode()
        fingerprint = re.search(rb"fingerprint (SHA256:[0-9A-F:]+)", log).group(1).decode()
        result = client("127.0.0.1", port, "--fingerprint", fingerprint, input=b"John\n")
        self.assertEqual(result.stdout.decode(), GREETING + "\n", result.stderr)

    def test_portInUse(self):
        """
        In the background, a port in use ends twistd within seconds with
        the one line on standard error and a non-zero exit status, and
        leaves no pid file.
        """
        work = Path(self.mktemp()).resolve()
        work.mkdir()
        pidfile = work / "twistd.pid"
        busy = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(busy.close)
        port = busy.getsockname()[1]
        result = twistd("--pidfile", str(pidfile), "--logfile", str(work / "twistd.log"),
                        "globalchat", "--data-dir", str(work / "data"),
                        "--port", f"tcp:{port}:interface=127.0.0.1", timeout=10)
        self.assertEqual(result.returncode, 1)
        [line] = result.stderr.decode().splitlines()
        self.assertTrue(line.startswith(
            f"globalchat: cannot listen on tcp:{port}:interface=127.0.0.1: Address already in use"),
            line)
        self.assertFalse(pidfile.exists())

    def stopDaemon(self, pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


class ClientCertificateTests(SynchronousTestCase):
    """
    --client-ca with a CA made by globalchat-cert.
    """

    def setUp(self):
        self.pki = Path(self.mktemp()).resolve()
        for args in (["ca"], ["server", "localhost", "127.0.0.1"], ["client", "alice"]):
            made = subprocess.run([*command("globalchat-cert", "globalchat.certs"), args[0],
                                   str(self.pki), *args[1:]],
                                  capture_output=True, env=environment(), timeout=30)
            self.assertEqual(made.returncode, 0, made.stderr)
        self.server = Server(
            self, "--port",
            f"ssl:0:interface=127.0.0.1:privateKey={self.pki}/server.key:certKey={self.pki}/server.crt",
            "--client-ca", str(self.pki / "ca.crt"))
        self.port = str(self.server.ports[0])

    def test_certificateNamesTheUser(self):
        """
        A client with a certificate from the CA chats under the
        certificate's name, whatever it typed.
        """
        result = client("localhost", self.port, "--ca", str(self.pki / "ca.crt"),
                        "--cert", str(self.pki / "alice.crt"), "--key", str(self.pki / "alice.key"),
                        "--raw", input=b"Mallory\nhi\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(untagged(result.stdout), [
            "Hello Good morning !!!! ::: alice", "NICK Mallory alice", "JOIN #lobby alice",
            "MSG #lobby <alice> hi"])

    def test_noCertificate(self):
        """
        Without a client certificate the connection is refused, with a
        clear line on both sides.
        """
        result = client("localhost", self.port, "--ca", str(self.pki / "ca.crt"), input=b"John\n")
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"requires a client certificate", result.stderr)
        self.server.waitFor(re.compile(rb"failed the TLS handshake"))
