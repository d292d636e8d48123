"""
What an irctest run (C{bench/irctest.sh}) said, from its JUnit XML: the
figures, then every test that failed or was skipped, grouped by reason,
as Markdown for docs/irc.md.

    python -m bench.irctest_report RESULTS/globalchat.xml [RESULTS/ngircd.xml ...]
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from dataclasses import dataclass, field

#: How much of a failure's message is kept: its first lines say what was
#: expected and what came instead.
FAILURE_LINES = 6


@dataclass
class Run:
    """
    One server's run: the tests that passed, and the others by reason.
    """

    passed: list[str] = field(default_factory=list)
    failed: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    skipped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    xfailed: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def figures(self) -> str:
        """
        The counts, as pytest's last line gives them.
        """
        count = lambda groups: sum(map(len, groups.values()))
        return (f"{len(self.passed)} passed, {count(self.failed)} failed, "
                f"{count(self.skipped)} skipped, {count(self.xfailed)} xfailed")


def _name(case: ElementTree.Element) -> str:
    module = case.get("classname", "").removeprefix("irctest.server_tests.")
    return f"{module}::{case.get('name')}"


def _reason(element: ElementTree.Element, lines: int) -> str:
    text = element.get("message") or element.text or element.tag
    kept = [line.rstrip() for line in text.strip().splitlines() if line.strip()][:lines]
    return "\n".join(kept)


def read(path: str) -> Run:
    """
    The run whose JUnit XML is at C{path}.  An expected failure (xfail)
    counts as skipped, as pytest counts it apart from failures.
    """
    run = Run()
    for case in ElementTree.parse(path).iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped")
        if failure is not None:
            run.failed[_reason(failure, FAILURE_LINES)].append(_name(case))
        elif skipped is not None and skipped.get("type") == "pytest.xfail":
            run.xfailed[_reason(skipped, 1)].append(_name(case))
        elif skipped is not None:
            run.skipped[_reason(skipped, 1).removeprefix("Skipped: ")].append(_name(case))
        else:
            run.passed.append(_name(case))
    return run


def markdown(server: str, run: Run) -> list[str]:
    """
    The failures and skips of C{run}, each reason once with its tests.
    """
    out = [f"### {server}: {run.figures()}", ""]
    for title, groups in (("Failed", run.failed), ("Skipped", run.skipped),
                          ("Expected to fail (xfail)", run.xfailed)):
        for reason, tests in sorted(groups.items(), key=lambda item: -len(item[1])):
            shown = reason.replace("\n", " / ")
            out.append(f"- {title} ({len(tests)}): {shown}")
            out += [f"  - `{test}`" for test in sorted(tests)]
    return out + [""]


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    for path in argv:
        server = path.rsplit("/", 1)[-1].removesuffix(".xml")
        print("\n".join(markdown(server, read(path))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
