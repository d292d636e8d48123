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
import statistics
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
    if isinstance(value, int):
        return f"{value:,}"
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


KEYS = ("clients", "rooms", "senders", "phase", "slow reader")
"""Columns that say which run a row is, not what it measured."""

SUMMED = ("lost", "corrupted", "dropped")
"""Columns added up over repeated runs: nothing lost in one run hides."""

SPREAD = ("deliveries/s", "p99 ms")
"""Columns whose lowest and highest over repeated runs are shown."""


def medians(rows: list[tuple[str, Row]]) -> list[tuple[str, Row]]:
    """
    Repeated runs' rows as one row per server and size: the median of
    each figure, the spread (min, max) of the main ones, the sums of
    L{SUMMED} and how many runs there were.
    """
    groups: dict[tuple, list[Row]] = {}
    for server, row in rows:
        groups.setdefault((server, *(row.get(k) for k in KEYS)), []).append(row)
    merged = []
    for (server, *_), runs in groups.items():
        row: Row = {}
        for column in dict.fromkeys(c for run in runs for c in run):
            values = [run[column] for run in runs if column in run]
            numbers = [float(v) for v in values  # type: ignore[arg-type]
                       if isinstance(v, (int, float)) and not isinstance(v, bool)
                       and not math.isnan(v)]
            if column in KEYS or len(numbers) != len(values):
                row[column] = values[0]
            elif column in SUMMED:
                row[column] = int(sum(numbers))
            else:
                middle = statistics.median(numbers) if numbers else math.nan
                whole = all(isinstance(v, int) for v in values)
                row[column] = int(middle) if whole and numbers else middle
                if column in SPREAD and numbers:
                    row[f"{column} min"] = min(numbers)
                    row[f"{column} max"] = max(numbers)
        row["runs"] = len(runs)
        merged.append((server, row))
    return merged


def _rows(results: Results, title: str, server: str) -> list[Row]:
    return [row for name, row in results.get(title, []) if name == server]


def _first(results: Results, title: str, server: str, column: str,
           **where: object) -> float | None:
    for row in _rows(results, title, server):
        if all(row.get(k) == v for k, v in where.items()) and isinstance(
                row.get(column), (int, float)) and not math.isnan(row[column]):  # type: ignore[arg-type]
            return float(row[column])  # type: ignore[arg-type]
    return None


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "n/a"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "**met**" if ok else "**missed**"


TEST_SERVERS = ("ceiling", "broken", "ncat-like")
"""Servers that measure the bench, not a chat server."""

NCAT_SEEN = (3.8e6, 4.5e6, 1.1)
"""ncat --chat's sustained burst as measured by an independent load
generator on a two-CPU machine: deliveries/s from, to, and % of lines
split or merged."""


def _fanOut(results: Results, title: str, where: dict[str, object]) -> list[str]:
    """globalchat against ncat and the floor in one fan-out size."""
    lines = []
    rate = _first(results, title, "globalchat", "deliveries/s", **where)
    clients, rooms = where.get("clients", 100), where.get("rooms", 1)
    # the burst's target is 1x; the other sizes hold the same ratio within 10%
    least = 1.0 if clients == 100 else 0.9
    for peer in ("ncat --chat", "floor"):
        other = _first(results, title, peer, "deliveries/s", **where)
        if rate is None or other is None:
            continue
        perCpu = _ratio(_first(results, title, "globalchat", "deliveries/CPU-s", **where),
                        _first(results, title, peer, "deliveries/CPU-s", **where))
        lines.append(f"{clients} clients in {rooms} room{'s' if rooms != 1 else ''}: globalchat "
                     f"{rate:,.0f} deliveries/s, {_ratio(rate, other)} {peer}'s {other:,.0f} "
                     f"(target >= {least:g}x): {_verdict(rate >= least * other)}; per server "
                     f"CPU-second {perCpu}")
    return lines


def _ceiling(results: Results, burst: str) -> list[str]:
    """
    The generator's ceiling against the fastest server, and what each
    costs a line on its own CPU, which explains a ratio below 2x.
    """
    ceiling = _first(results, burst, "ceiling", "deliveries/s")
    if ceiling is None:
        return []
    servers = [(float(row["deliveries/s"]), name)  # type: ignore[arg-type]
               for name, row in results.get(burst, [])
               if name not in TEST_SERVERS and not math.isnan(row["deliveries/s"])]  # type: ignore[arg-type]
    fastest, name = max(servers, default=(None, "no server"))
    lines = [f"load generator ceiling (against a trivial server): {ceiling:,.0f} deliveries/s, "
             f"{_ratio(ceiling, fastest)} the fastest server, {name} (target >= 2x): "
             f"{_verdict(None if fastest is None else ceiling >= 2 * fastest)}"]
    cost = _first(results, burst, "ceiling", "generator ns/line")
    kernel = _first(results, burst, "ceiling", "of it kernel")
    perCpu = _first(results, burst, name, "deliveries/CPU-s")
    if cost and kernel is not None and perCpu:
        lines.append(f"per CPU-second: the generator checks up to {1e9 / cost:,.0f} lines "
                     f"({cost:.0f} ns a line, {kernel:.0f} ns of it in the kernel receiving), "
                     f"{name} relays {perCpu:,.0f} deliveries: "
                     f"{_ratio(1e9 / cost, perCpu)}")
    return lines


def targets(results: Results, titles: dict[str, str]) -> list[str]:
    """
    globalchat's figures as ratios against the peers of the same run, next
    to the targets they are held to, each met or missed.
    """
    burst, scaling, paced = titles["burst"], titles["scaling"], titles["paced"]
    lines = _ceiling(results, burst)
    lines += _fanOut(results, burst, {})
    gc = _rows(results, burst, "globalchat")
    if gc:
        lines.append(f"burst: globalchat lost {gc[0]['lost']}, corrupted {gc[0]['corrupted']} "
                     f"(target 0 and 0): {_verdict(gc[0]['lost'] == gc[0]['corrupted'] == 0)}")
    for row in _rows(results, scaling, "globalchat"):
        lines += _fanOut(results, scaling, {"clients": row["clients"], "rooms": row["rooms"]})
    ncat = _first(results, burst, "ncat --chat", "deliveries/s")
    damaged = _first(results, burst, "ncat --chat", "corrupted %")
    if ncat is not None and damaged is not None:
        low, high, split = NCAT_SEEN
        lines.append(
            f"ncat cross-check: {ncat:,.0f} deliveries/s and {damaged:.2f}% split or merged, "
            f"against {low / 1e6:.1f}-{high / 1e6:.1f} M/s and {split}% elsewhere (within 25%): "
            f"rate {'agrees' if 0.75 * low <= ncat <= 1.25 * high else 'disagrees'}, damage "
            f"{'agrees' if 0.75 * split <= damaged <= 1.25 * split else 'disagrees'}")
    mine = _first(results, paced, "globalchat", "p99 ms")
    ngircd = _first(results, paced, "ngircd", "p99 ms")
    if mine is not None and ngircd is not None:
        lines.append(f"paced p99: globalchat {mine:.1f} ms, {_ratio(mine, ngircd)} ngircd's "
                     f"{ngircd:.1f} ms (target <= 1x): {_verdict(mine <= ngircd)}")
    perConnection = _first(results, titles["idle"], "globalchat", "KB/conn")
    if perConnection is not None:
        lines.append(f"idle: {perConnection:.2f} KB per connection (target <= 2 KB): "
                     f"{_verdict(perConnection <= 2)}")
    greeted = _first(results, titles["storm"], "globalchat", "greeted")
    if greeted is not None:
        total = _first(results, titles["storm"], "globalchat", "connections")
        lines.append(f"connect storm: {greeted:.0f} of {total:.0f} greeted (target: all, as "
                     f"before): {_verdict(greeted == total)}")
    slow = [row.get("p99 ms") for row in _rows(results, titles["slow-reader"], "globalchat")]
    if len(slow) == 2:
        ok = slow[1] <= 2 * slow[0]  # type: ignore[operator]
        lines.append(f"slow reader: others' p99 {_ratio(slow[1], slow[0])} "  # type: ignore[arg-type]
                     f"the run without it (target <= 2x, as before): {_verdict(ok)}")
    phases = {row.get("phase"): row for row in _rows(results, titles["logins"], "globalchat")}
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
        "load average (1, 5, 15 min) when the run began: "
        + ", ".join(f"{load:.2f}" for load in os.getloadavg()),
    ]


KEPT = "<!-- separate runs: kept when the file is written again -->"
"""Where the part of RESULTS.md written by hand (figures of separate
runs, each with its own command) begins; a new run keeps it."""


def write(out: Path, results: Results, titles: dict[str, str], notes: list[str],
          header: list[str]) -> None:
    """
    Write C{RESULTS.md} and C{results.png} into C{out}; C{header} is what
    L{machine} said when the run began.
    """
    out.mkdir(parents=True, exist_ok=True)
    fanOut = results.get(titles["burst"], []) + results.get(titles["scaling"], [])
    plotted = plot(out / "results.png", fanOut)
    command = " ".join(["python -m bench", *sys.argv[1:]])
    parts = ["# Benchmark results", "", *[f"- {line}" for line in header],
             f"- command: `{command}`", "",
             "Servers run one at a time on 127.0.0.1, pinned to CPU 0; the load "
             "generator runs on the other CPUs. Lost = lines that never arrived; "
             "corrupted = lines split, merged, altered or out of order for their sender. "
             "Repeated scenarios give the median of their runs (the servers take turns), "
             "the lowest and highest figure, and lost, corrupted and dropped added up over "
             "all runs. Fan-out figures are wall-clock deliveries over the window from go "
             "to the last delivery; server CPU % is the server's CPU time (all threads, "
             "/proc/PID/stat) read at both ends of that window, over the window; "
             "generator CPU % is the load generator's own (near 100 %, the generator "
             "may be what limits the figure); first line at % is when the first line "
             "arrived, as a share of that window (a server that reads all its input "
             "before it writes answers late by design).",
             ""]
    ratios = targets(results, titles)
    if ratios:
        parts += ["## globalchat against the targets", "", *[f"- {r}" for r in ratios], ""]
    for title, rows in results.items():
        parts += [f"## {title}", "", _markdown(rows), ""]
    if plotted:
        parts += ["![deliveries/s and per server CPU-second, by clients and rooms](results.png)",
                  ""]
    if notes:
        parts += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    previous = out / "RESULTS.md"
    kept = previous.read_text().partition(KEPT) if previous.exists() else ("", "", "")
    if kept[1]:
        parts += [KEPT + kept[2].rstrip("\n"), ""]
    previous.write_text("\n".join(parts))


def plot(path: Path, rows: list[tuple[str, Row]]) -> bool:
    """
    Median deliveries/s (with the lowest and highest run) and deliveries
    per server CPU-second for each fan-out size, one bar per server;
    whether there was anything to plot.
    """
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    sizes = list(dict.fromkeys((row["clients"], row["rooms"]) for _, row in rows))
    servers = list(dict.fromkeys(name for name, _ in rows))
    panels = {"deliveries/s": "deliveries/s (wall clock, median of runs)",
              "deliveries/CPU-s": "deliveries per server CPU-second"}
    figure, axes = pyplot.subplots(1, len(panels), figsize=(15, 4.8))
    width = 0.8 / len(servers)
    for number, server in enumerate(servers):
        byRow = {(row["clients"], row["rooms"]): row for name, row in rows if name == server}
        xs = [i + number * width for i, size in enumerate(sizes) if size in byRow]
        got = [byRow[size] for size in sizes if size in byRow]
        for ax, column in zip(axes, panels):
            values = [float(row[column]) for row in got]  # type: ignore[arg-type]
            errors = None
            if f"{column} min" in got[0]:
                errors = [[v - float(row[f"{column} min"]) for v, row in zip(values, got)],  # type: ignore[arg-type]
                          [float(row[f"{column} max"]) - v for v, row in zip(values, got)]]  # type: ignore[arg-type]
            ax.bar(xs, values, width, yerr=errors, label=server, capsize=2)
    for ax, label in zip(axes, panels.values()):
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(sizes))])
        ax.set_xticklabels([f"{c} clients, {r} room{'s' if r > 1 else ''}" for c, r in sizes])
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return True
