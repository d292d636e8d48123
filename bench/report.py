"""
Turning scenario rows into what people read: a table per scenario on the
terminal, C{RESULTS.md} (with the machine, versions, date and command, so
that figures can be compared later) and a plot of how each server scales.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

from bench.scenarios import Row
from bench.servers import ROOT

Results = dict[str, list[tuple[str, Row]]]
"""Scenario title to (server, row) pairs, in the order they were run."""


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value)


def _grid(rows: list[tuple[str, Row]]) -> list[list[str]]:
    """
    Header and cells for rows that may not all have the same columns.
    """
    columns: list[str] = []
    for _, row in rows:
        columns += [c for c in row if c not in columns]
    return [["server", *columns]] + [
        [server, *(_cell(row.get(c, "")) for c in columns)] for server, row in rows]


def table(title: str, rows: list[tuple[str, Row]]) -> str:
    """
    One scenario as aligned plain text, for the terminal.
    """
    grid = _grid(rows)
    widths = [max(len(line[i]) for line in grid) for i in range(len(grid[0]))]
    lines = [title] + ["  ".join(cell.rjust(w) if i else cell.ljust(w)
                                 for i, (cell, w) in enumerate(zip(line, widths)))
                       for line in grid]
    return "\n".join(lines)


def _markdown(rows: list[tuple[str, Row]]) -> str:
    grid = _grid(rows)
    head, *body = grid
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(line) + " |" for line in body])


def _first(results: Results, title: str, server: str, column: str) -> float | None:
    for name, row in results.get(title, []):
        if name == server and isinstance(row.get(column), (int, float)):
            return float(row[column])  # type: ignore[arg-type]
    return None


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "n/a"


def targets(results: Results, titles: dict[str, str]) -> list[str]:
    """
    globalchat's figures as ratios against the peers of the same run, next
    to the targets they are held to.
    """
    lines = []
    burst, paced = titles["burst"], titles["paced"]
    for column in ("deliveries/s", "deliveries/CPU-s"):
        rate = _first(results, burst, "globalchat", column)
        if rate is not None:
            lines.append(f"burst fan-out in {column}: "
                         f"{_ratio(rate, _first(results, burst, 'floor', column))} the floor "
                         f"(target >= 4x), "
                         f"{_ratio(rate, _first(results, burst, 'ncat --chat', column))}"
                         " ncat (target >= 1x)")
        withMetrics = _first(results, burst, "globalchat --metrics", column)
        if rate is not None and withMetrics is not None:
            lines.append(f"burst fan-out in {column} with --metrics scraped: "
                         f"{_ratio(withMetrics, rate)} of without (target >= 0.97x)")
    mine = _first(results, paced, "globalchat", "p99 ms")
    peers = [float(row["p99 ms"]) for name, row in results.get(paced, [])  # type: ignore[arg-type]
             if not name.startswith("globalchat") and not math.isnan(row["p99 ms"])]  # type: ignore[arg-type]
    if mine is not None and peers:
        lines.append(f"paced p99: {_ratio(mine, min(peers))} the best peer's (target <= 1x)")
    perConnection = _first(results, titles["idle"], "globalchat", "KB/conn")
    if perConnection is not None:
        lines.append(f"idle: {perConnection:.2f} KB per connection (target <= 2 KB)")
    greeted = _first(results, titles["storm"], "globalchat", "greeted")
    if greeted is not None:
        total = _first(results, titles["storm"], "globalchat", "connections")
        lines.append(f"connect storm: {greeted:.0f} of {total:.0f} greeted (target: all)")
    slow = [row.get("p99 ms") for name, row in results.get(titles["slow-reader"], [])
            if name == "globalchat"]
    if len(slow) == 2:
        lines.append(f"slow reader: others' p99 {_ratio(slow[1], slow[0])} "  # type: ignore[arg-type]
                     "the run without it (target <= 2x)")
    phases = {row.get("phase"): row for name, row in results.get(titles["logins"], [])
              if name == "globalchat"}
    if {"quiet", "login storm"} <= phases.keys():
        quiet, storm = phases["quiet"], phases["login storm"]
        lines.append(f"login storm: {storm['logins/s']:.1f} logins/s; chat p99 "
                     f"{_ratio(storm['p99 ms'], quiet['p99 ms'])} the quiet figure "  # type: ignore[arg-type]
                     "(target <= 2x)")
    return lines


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    out = (done.stdout + done.stderr).strip().splitlines()
    return out[0] if out else "?"


def machine() -> list[str]:
    """
    What the figures were measured on.
    """
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    import twisted

    return [
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs ({model})",
        f"Python {platform.python_version()}, Twisted {twisted.__version__}",
        f"globalchat: commit {_version(['git', 'describe', '--always', '--dirty'])}",
        f"ncat: {_version(['ncat', '--version'])}",
        f"ngircd: {_version(['ngircd', '--version'])}",
    ]


def write(out: Path, results: Results, titles: dict[str, str], notes: list[str]) -> None:
    """
    Write C{RESULTS.md} and C{results.png} into C{out}.
    """
    out.mkdir(parents=True, exist_ok=True)
    plotted = plot(out / "results.png", results.get(titles["scaling"], []))
    command = " ".join(["python -m bench", *sys.argv[1:]])
    parts = ["# Benchmark results", "", *[f"- {line}" for line in machine()],
             f"- command: `{command}`", "",
             "Servers run one at a time on 127.0.0.1, pinned to CPU 0; the load "
             "generator runs on the other CPUs. Lost = lines that never arrived; "
             "corrupted = lines split, merged, altered or out of order for their sender.",
             ""]
    ratios = targets(results, titles)
    if ratios:
        parts += ["## globalchat against the targets", "", *[f"- {r}" for r in ratios], ""]
    for title, rows in results.items():
        parts += [f"## {title}", "", _markdown(rows), ""]
    if plotted:
        parts += ["![deliveries/s and p99 latency against clients](results.png)", ""]
    if notes:
        parts += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    (out / "RESULTS.md").write_text("\n".join(parts))


def plot(path: Path, rows: list[tuple[str, Row]]) -> bool:
    """
    Deliveries/s and p99 latency against the number of clients, one line
    per server; whether there was anything to plot.
    """
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    panels = {"deliveries/s": "deliveries/s (wall clock)",
              "deliveries/CPU-s": "deliveries per server CPU-second",
              "p99 ms": "p99 latency under burst (ms)"}
    figure, axes = pyplot.subplots(1, len(panels), figsize=(16, 4.5))
    for server in dict.fromkeys(name for name, _ in rows):
        points = [row for name, row in rows if name == server]
        for ax, column in zip(axes, panels):
            ax.plot([row["clients"] for row in points], [row[column] for row in points],
                    marker="o", label=server)
    for ax, label in zip(axes, panels.values()):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("clients in the room")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return True
