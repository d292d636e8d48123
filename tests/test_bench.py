"""
The benchmark suite still runs: C{python -m bench --smoke} against
globalchat and the floor, end to end.  No timing is asserted, only that
nothing was lost or mangled; and the load generator measures itself and
tells real damage from a server's framing.
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


def _smoke(*arguments: str) -> str:
    """
    The output of C{python -m bench --smoke} with C{arguments}; it must
    exit 0.
    """
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", *arguments],
                          cwd=ROOT, capture_output=True, text=True, timeout=110)
    if done.returncode != 0:
        raise AssertionError(f"exit {done.returncode}: {done.stdout}{done.stderr}")
    return done.stdout


class GeneratorTests(TestCase):
    """
    The burst against the bench's own trivial servers: C{ceiling}, which
    measures the generator; C{broken}, which splits one line in a
    hundred; C{ncat-like}, which frames lines as C{ncat --chat} does.
    """

    timeout = 60

    def test_generator(self) -> None:
        """
        The generator's ceiling is reported; every line the broken server
        split is caught, once per line (10 clients each get 2 x 500
        lines, 1 in 100 split: 100), nothing counted lost; ncat's
        C{<userN> } before some lines only is not damage.
        """
        output = _smoke("--scenario", "burst", "--servers", "ceiling,broken,ncat-like")
        ceiling, = _rows(output, "1. burst", "ceiling")
        self.assertEqual((ceiling["lost"], ceiling["corrupted"]), ("0", "0"), ceiling)
        self.assertGreater(float(ceiling["deliveries/s"].replace(",", "")), 0, ceiling)
        self.assertRegex(output, r"load generator ceiling \(against a trivial server\): "
                                 r"[\d,]+ deliveries/s")
        broken, = _rows(output, "1. burst", "broken")
        self.assertEqual((broken["deliveries"], broken["lost"], broken["corrupted"]),
                         ("10,000", "0", "100"), broken)
        ncat, = _rows(output, "1. burst", "ncat-like")
        self.assertEqual((ncat["lost"], ncat["corrupted"]), ("0", "0"), ncat)


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
        output = _smoke("--servers", "globalchat,floor")
        for title in ("1. burst", "2. many clients", "3. paced", "6. slow reader", "8. logins"):
            rows = _rows(output, title, "globalchat")
            self.assertTrue(rows, f"no globalchat row under {title}:\n{output}")
            for row in rows:
                self.assertEqual((row["lost"], row["corrupted"]), ("0", "0"),
                                 f"{title}: {row}")
        storm = _rows(output, "8. logins", "globalchat")[-1]
        self.assertEqual(storm["phase"], "login storm")
        self.assertGreater(int(storm["logins"].replace(",", "")), 0, storm)
        self.assertEqual(storm["login errors"], "0", storm)
        self.assertNotIn("failed", output)
