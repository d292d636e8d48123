"""
The benchmark suite still runs: C{python -m bench --smoke} against
globalchat and the floor, end to end.  No timing is asserted, only that
nothing was lost or mangled.
"""

import re
import subprocess
import sys
from pathlib import Path

from twisted.trial.unittest import TestCase

ROOT = Path(__file__).resolve().parent.parent


def _rows(output: str, title: str, server: str) -> list[dict[str, str]]:
    """
    The rows of C{server} in the table headed by C{title}, as column name
    to cell.
    """
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    header = _cells(lines[start + 1])
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        cells = _cells(line)
        if cells[0] == server:
            rows.append(dict(zip(header, cells)))
    return rows


def _cells(line: str) -> list[str]:
    """
    The cells of one table line: columns are at least two spaces apart,
    and no cell holds two spaces running.
    """
    return re.split(r"\s{2,}", line.strip())


class SmokeTests(TestCase):
    """
    C{python -m bench --smoke --servers globalchat,floor}.
    """

    timeout = 120

    def test_smoke(self) -> None:
        """
        Every scenario runs, exits 0, and globalchat loses and corrupts
        nothing in the scenarios that count lines; in the login storm,
        logins to accounts get through and none is refused.
        """
        done = subprocess.run(
            [sys.executable, "-m", "bench", "--smoke", "--servers", "globalchat,floor"],
            cwd=ROOT, capture_output=True, text=True, timeout=110)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        for title in ("1. burst", "2. scaling", "3. paced", "6. slow reader", "8. logins"):
            rows = _rows(done.stdout, title, "globalchat")
            self.assertTrue(rows, f"no globalchat row under {title}:\n{done.stdout}")
            for row in rows:
                self.assertEqual((row["lost"], row["corrupted"]), ("0", "0"),
                                 f"{title}: {row}")
        storm = _rows(done.stdout, "8. logins", "globalchat")[-1]
        self.assertEqual(storm["phase"], "login storm")
        self.assertGreater(int(storm["logins"]), 0, storm)
        self.assertEqual(storm["login errors"], "0", storm)
        self.assertNotIn("failed", done.stdout)
