"""
A password-protected server, its password tool and the client, for real.
"""

import subprocess
import time
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.processes import RawClient, Server, client, command, environment

GREETING = "Hello Good morning !!!! ::: John"


class PasswordTests(SynchronousTestCase):
    """
    C{globalchat-passwd}, C{--password-file} and the client's password.
    """

    def setUp(self):
        self.file = Path(self.mktemp()).resolve()
        written = subprocess.run([*command("globalchat-passwd", "globalchat.auth"), str(self.file)],
                                 input=b"s3cret\n", capture_output=True, env=environment(),
                                 timeout=30)
        self.assertEqual(written.returncode, 0, written.stderr)
        self.server = Server(self, "--port", "tcp:0:interface=127.0.0.1",
                             "--password-file", str(self.file))
        self.port = str(self.server.ports[0])

    def test_fileHoldsOnlyAHash(self):
        """
        The file is readable by its owner only and holds a salted scrypt
        hash, not the password.
        """
        self.assertEqual(self.file.stat().st_mode & 0o777, 0o600)
        text = self.file.read_text()
        self.assertTrue(text.startswith("scrypt$"))
        self.assertNotIn("s3cret", text)

    def test_rightPassword(self):
        """
        With the password in the environment, a piped session logs in and
        its lines (held until then) are taken; the password is never
        logged.
        """
        result = client("127.0.0.1", self.port, input=b"John\nhello\n",
                        extraEnv={"GLOBALCHAT_PASSWORD": "s3cret"})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.decode().splitlines(),
                         ["John needs a password", GREETING, "#lobby John joined",
                          "#lobby <John> hello"])
        self.server.stop()
        self.assertNotIn(b"s3cret", self.server.output)

    def test_passwordFromFile(self):
        """
        --password-file reads the password from a file.
        """
        secret = Path(self.mktemp())
        secret.write_text("s3cret\n")
        result = client("127.0.0.1", self.port, "--password-file", str(secret), input=b"John\n")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_noPasswordInPipe(self):
        """
        A script without a password is told where to give it.
        """
        result = client("127.0.0.1", self.port, input=b"John\nhello\n")
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"asks for a password for John: set GLOBALCHAT_PASSWORD", result.stderr)

    def test_threeWrongPasswordsBan(self):
        """
        Three wrong passwords ban the address: the connection is cut and
        new ones are refused.  Each try waits out the back-off the one
        before set (1 s, then 2 s).
        """
        raw = RawClient(self, int(self.port))
        for attempt in range(3):
            time.sleep(attempt and 2 ** (attempt - 1) + 0.2)
            raw.send(b"John\nguess\n")
            self.assertEqual(raw.readLine(), "AUTH John")
            self.assertEqual(raw.readLine(), "ERROR wrong password; give your name again")
        self.assertEqual(raw.readLine(), "ERROR banned for repeated abuse")
        again = RawClient(self, int(self.port))
        self.assertEqual(again.socket.recv(100), b"")
        self.assertNotIn(b"guess", self.server.output)
