"""
Tests for L{globalchat.auth}.
"""

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from globalchat import auth


class HashTests(SynchronousTestCase):
    """
    Hashing and checking passwords.
    """

    def test_roundTrip(self):
        """
        The right password matches; another does not; two hashes of one
        password differ by their salt.
        """
        stored = auth.hashPassword("s3cret")
        self.assertTrue(auth.verifyPassword(stored, "s3cret"))
        self.assertFalse(auth.verifyPassword(stored, "S3cret"))
        self.assertNotEqual(stored, auth.hashPassword("s3cret"))
        self.assertNotIn("s3cret", stored)

    def test_badFiles(self):
        """
        A file that is missing or was not written by globalchat-passwd is
        refused with one line.
        """
        path = Path(self.mktemp())
        e = self.assertRaises(ValueError, auth.loadPasswordFile, path)
        self.assertIn("cannot read", str(e))
        for text in ("plaintext", "scrypt$1$2$3$!!$!!", "md5$x$y$z$a$b"):
            path.write_text(text)
            e = self.assertRaises(ValueError, auth.loadPasswordFile, path)
            self.assertIn("not a password hash written by globalchat-passwd", str(e))
