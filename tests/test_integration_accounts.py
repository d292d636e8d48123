"""
Accounts for real: the real C{twistd globalchat}, C{globalchat-client},
C{globalchat-cert} and C{globalchat-admin}, over TCP and TLS on 127.0.0.1.
"""

import socket
import subprocess
import time
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.processes import RawClient, Server, client, command, environment, untagged

TCP = "tcp:0:interface=127.0.0.1"
PASSWORD = "correct-horse"


def greeting(name: str) -> str:
    return f"Hello Good morning !!!! ::: {name}"


class AccountTestCase(SynchronousTestCase):
    """
    A server on a TCP port, and password files for Bea.
    """

    def setUp(self):
        self.server = Server(self, "--port", TCP)
        self.good = self.passwordFile(PASSWORD)

    def passwordFile(self, password: str) -> str:
        path = Path(self.mktemp()).resolve()
        path.write_text(password + "\n")
        return str(path)

    def chat(self, *args: str, input: bytes = b"", port: int | None = None):
        return client("127.0.0.1", str(port or self.server.ports[0]), *args, input=input)

    def register(self, *args: str, input: bytes = b"") -> None:
        """
        Bea registers her name (with the lines of C{input} after) and quits.
        """
        result = self.chat("--name", "Bea", *args, input=b"/register " + PASSWORD.encode()
                           + b"\n" + input)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("Bea is your account now: log in with it and your password from now on",
                      result.stdout.decode().splitlines())


class PasswordLoginTests(AccountTestCase):
    """
    Registering, logging in from a script, and the account surviving a
    restart of the server.
    """

    def test_registerLogInRestart(self):
        """
        A registered name logs in with the password from --password-file;
        a wrong one is refused in one line with exit status 1; after a
        restart on the same data directory the account is still there,
        and globalchat-admin lists it once the server has stopped.
        """
        self.register()
        right = self.chat("--name", "Bea", "--password-file", self.good, input=b"hello\n")
        self.assertEqual(right.returncode, 0, right.stderr)
        self.assertEqual(right.stdout.decode().splitlines(), [
            "Bea needs a password", greeting("Bea"), "#lobby Bea joined", "#lobby <Bea> hello"])
        wrong = self.chat("--name", "Bea", "--password-file", self.passwordFile("guess-guess"),
                          input=b"hello\n")
        self.assertEqual(wrong.returncode, 1)
        self.assertEqual(wrong.stderr.decode().splitlines(), [
            f"globalchat-client: 127.0.0.1:{self.server.ports[0]} refused the password for Bea: "
            "wrong password; give your name again (nothing else was sent)"])
        self.assertNotIn(b"hello", wrong.stdout)

        self.server.stop()
        again = Server(self, "--port", TCP, dataDir=self.server.dataDir)
        back = self.chat("--name", "Bea", "--password-file", self.good, input=b"/whois Bea\n",
                         port=again.ports[0])
        self.assertEqual(back.returncode, 0, back.stderr)
        self.assertIn(greeting("Bea"), back.stdout.decode().splitlines())
        self.assertIn("Bea is an account, registered", back.stdout.decode())
        again.stop()
        self.assertNotIn(PASSWORD.encode(), self.server.output + again.output)

        listed = subprocess.run([*command("globalchat-admin", "globalchat.admin"), "--data-dir",
                                 str(self.server.dataDir), "accounts"],
                                capture_output=True, env=environment(), timeout=30)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        lines = listed.stdout.decode().splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "REGISTERED", "OPERATOR"])
        self.assertEqual([line.split()[0::2] for line in lines[1:]], [["Bea", "no"]])

    def test_mallory(self):
        """
        A message kept for Bea while she is away reaches only Bea: someone
        typing her name is asked for her password and reads nothing; Bea,
        logging in with it, gets the message as a stored private message.
        """
        self.register()
        alice = self.chat("--name", "alice", input=b"/msg Bea meet at 6, the code is 4711\n")
        self.assertEqual(alice.returncode, 0, alice.stderr)
        self.assertIn("Bea is offline: they get your message when they next log in",
                      alice.stdout.decode())

        mallory = RawClient(self, self.server.ports[0])
        mallory.send(b"@resume=0 Bea\n")
        self.assertEqual(mallory.readLine(), "AUTH Bea")
        mallory.send(b"guess-guess\n@resume=0 Mallory\n/who\n")
        seen = [mallory.readLine()]
        while seen[-1] != "OK /who":
            seen.append(mallory.readLine())
        self.assertEqual(seen[:2], ["ERROR wrong password; give your name again",
                                    greeting("Mallory")])
        mallory.socket.settimeout(0.5)
        try:
            seen.append(mallory.socket.recv(65536).decode())
        except socket.timeout:
            pass
        self.assertNotIn("4711", "\n".join(seen))

        time.sleep(1.2)  # the back-off after Mallory's wrong guess
        bea = self.chat("--name", "Bea", "--password-file", self.good, "--raw", input=b"/who\n")
        self.assertEqual(bea.returncode, 0, bea.stderr)
        kept = [line for line in untagged(bea.stdout) if "4711" in line]
        self.assertEqual(len(kept), 1, bea.stdout)
        self.assertRegex(kept[0], r"^HIST \S+Z PRIV <alice> @Bea meet at 6, the code is 4711$")


class CertificateLoginTests(AccountTestCase):
    """
    Logging in to an account with a client certificate bound to it, on a
    server with no CA of its own.
    """

    def setUp(self):
        self.server = Server(self, "--port", "ssl:0:interface=127.0.0.1")
        self.pki = Path(self.mktemp()).resolve()
        for args in (["ca"], ["client", "bea"]):
            made = subprocess.run([*command("globalchat-cert", "globalchat.certs"), args[0],
                                   str(self.pki), *args[1:]],
                                  capture_output=True, env=environment(), timeout=30)
            self.assertEqual(made.returncode, 0, made.stderr)
        self.certificate = ["--cert", str(self.pki / "bea.crt"), "--key", str(self.pki / "bea.key")]
        self.tls = ["--fingerprint", self.server.fingerprint]

    def test_boundCertificateLogsIn(self):
        """
        Bea binds the certificate she connected with (C{/cert add} alone);
        then the certificate alone logs her in, whatever name is typed,
        with no password.
        """
        self.register(*self.tls, *self.certificate, input=b"/cert add\n/cert list\n")
        result = self.chat(*self.tls, *self.certificate, "--raw", input=b"anything\nhi\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(untagged(result.stdout)[:2], [greeting("Bea"), "NICK anything Bea"])
        self.assertIn("MSG #lobby <Bea> hi", untagged(result.stdout))

    def test_unboundCertificate(self):
        """
        A certificate bound to no account logs in nobody: the account's
        name still asks for the password.
        """
        self.register(*self.tls)
        result = self.chat(*self.tls, *self.certificate, input=b"Bea\n")
        self.assertEqual(result.returncode, 1, (result.stdout, result.stderr))
        self.assertIn(b"asks for a password for Bea", result.stderr)
