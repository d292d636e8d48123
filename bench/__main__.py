"""
C{python -m bench}: globalchat side by side with other chat servers.

Each server is started here on 127.0.0.1, pinned to CPU 0, for each
scenario in turn: burst fan-out, scaling, paced chat latency, idle
connections, a connect storm, a slow reader, and (globalchat only)
WebSocket clients beside TCP clients, logins while chatting and IRC
clients beside line clients.  Every
receiving client
checks every line (lost, split, merged, altered, reordered).  Servers
that are not installed are skipped with a note.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from bench import profile, report, wire
from bench.loadgen import raiseFileLimit
from bench.scenarios import SCENARIOS, Row
from bench.servers import PEERS, Peer, peerKey
from bench.ircload import SCENARIO as IRC
from bench.webload import SCENARIO as WEB

#: Every scenario, in the order they run.
ALL = sorted([*SCENARIOS, WEB, IRC], key=lambda scenario: int(scenario.title.split(".")[0]))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="every scenario at tiny sizes, to check that it all runs; "
                             "writes RESULTS.md only with --out")
    parser.add_argument("--scenario", action="append", choices=[s.name for s in ALL],
                        help="run only this scenario (repeatable)")
    parser.add_argument("--servers", type=lambda v: v.split(","),
                        help="comma-separated subset of: " + ",".join(map(peerKey, PEERS))
                             + " (broken and ncat-like only when named: they test the bench)")
    parser.add_argument("--repeat", type=int, default=None, metavar="N",
                        help="runs of each repeated scenario, the servers taking turns "
                             "(default: 3, or 1 for --smoke); tables give medians and spreads")
    parser.add_argument("--line-size", type=int, default=wire.LINE_SIZE, metavar="BYTES",
                        help=f"bytes of one bench line, newline included (default "
                             f"{wire.LINE_SIZE}; at least 48)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="record every Python server with py-spy into DIR and sum up "
                             "where its time went (the figures of such a run are skewed)")
    parser.add_argument("--out", type=Path,
                        help="directory for RESULTS.md and results.png (default: bench/, "
                             "or nowhere for --smoke)")
    args = parser.parse_args()
    if not 48 <= args.line_size <= 1024:
        parser.error("--line-size must be from 48 to 1024 bytes")
    unknown = set(args.servers or []) - {peerKey(p) for p in PEERS}
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    return args


def _runnable(chosen: list[str] | None, notes: list[str]) -> list[Peer]:
    """
    The chosen peers that can run here; a note for each that cannot.
    """
    peers = []
    for peer in PEERS:
        if peerKey(peer) not in (chosen or []) and (chosen is not None or peer.hidden):
            continue
        missing = peer.missing()
        if missing:
            notes.append(f"{peer.name} skipped: {missing}")
        else:
            peers.append(peer)
            notes.append(f"{peer.name}: {peer.notes}")
    return peers


def _stopOnTerm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    args = _arguments()
    # A SIGTERM unwinds like Ctrl-C, so every server and worker is stopped.
    signal.signal(signal.SIGTERM, _stopOnTerm)
    raiseFileLimit()
    notes: list[str] = []
    peers = _runnable(args.servers, notes)
    scenarios = [s for s in ALL if not args.scenario or s.name in args.scenario]
    titles = {s.name: s.title for s in ALL}
    results: report.Results = {}
    header = report.machine()
    print("\n".join(header), flush=True)
    wire.LINE_SIZE = args.line_size
    repeat = args.repeat or (1 if args.smoke else 3)
    if args.profile:
        profile.active = profile.Recorder(args.profile)
    try:
        for scenario in scenarios:
            began = time.monotonic()
            size = scenario.sizes.smoke if args.smoke else scenario.sizes.full
            rows: list[tuple[str, Row]] = []
            taking = [peer for peer in peers if peer.takesPart(scenario.name)]
            for run in range(repeat if scenario.repeat else 1):
                for peer in taking:
                    try:
                        rows += [(peer.name, row) for row in scenario.run(peer, size)]
                    except Exception as e:
                        notes.append(f"{scenario.name} on {peer.name} failed: {e}")
            results[scenario.title] = report.medians(rows) if scenario.repeat else rows
            print("\n" + report.table(f"{scenario.title}  {size}", results[scenario.title]),
                  f"\n({time.monotonic() - began:.0f} s)", flush=True)
    except KeyboardInterrupt:
        # Keep what was measured; every server and worker is already stopped.
        notes.append("interrupted: the results are partial")
    print("\n" + "\n".join(["notes:", *notes, *report.targets(results, titles)]))
    if args.profile:
        summary = [line for path in sorted(args.profile.glob("*.txt"))
                   if path.name != "summary.txt" for line in profile.summary(path)]
        (args.profile / "summary.txt").write_text("\n".join(summary) + "\n")
        print("\n" + "\n".join(summary))
    out = args.out or (None if args.smoke else Path(__file__).parent)
    if out is not None:
        report.write(out, results, titles, notes, header)
        print(f"\nwrote {out / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
