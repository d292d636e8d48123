#!/usr/bin/env bash
# IRC conformance: irctest's server tests (a checkout of progval/irctest)
# against ngIRCd (Debian's ngircd, the peer) and `twistd globalchat --irc`,
# one after the other, on 127.0.0.1 only.
#
#   bench/irctest.sh IRCTEST_DIR [globalchat|ngircd]... [-- PYTEST-ARGS...]
#
# irctest runs in a virtual environment of its own (IRCTEST_VENV, default
# IRCTEST_DIR/.venv, made from its requirements.txt and pytest-xdist on first
# use), with IRCTEST_JOBS pytest-xdist workers (default 0: one test at a
# time, in pytest's own process); globalchat runs from GLOBALCHAT_BIN
# (default: this checkout's .venv/bin). Each server's pytest output and JUnit
# XML go to IRCTEST_OUT (default IRCTEST_DIR/results), and the last lines
# printed are the figures: passed, failed, skipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ] || [ ! -d "$1/irctest/server_tests" ]; then
    echo "usage: bench/irctest.sh IRCTEST_DIR [globalchat|ngircd]... [-- PYTEST-ARGS...]" >&2
    echo "(IRCTEST_DIR: a checkout of progval/irctest)" >&2
    exit 2
fi
irctest=$(cd "$1" && pwd)
shift
servers=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    case $1 in
        globalchat|ngircd) servers+=("$1") ;;
        *) echo "bench/irctest.sh: unknown server $1 (globalchat or ngircd)" >&2; exit 2 ;;
    esac
    shift
done
[ "${1:-}" = -- ] && shift
[ ${#servers[@]} -gt 0 ] || servers=(ngircd globalchat)

venv=${IRCTEST_VENV:-$irctest/.venv}
if [ ! -x "$venv/bin/pytest" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r "$irctest/requirements.txt" pytest-xdist
fi
export GLOBALCHAT_BIN=${GLOBALCHAT_BIN:-$root/.venv/bin}
out=${IRCTEST_OUT:-$irctest/results}
mkdir -p "$out"

# The selection servers are compared on: no implementation-specific,
# deprecated, strict or services tests.
selection='not Ergo and not deprecated and not strict and not services'
summary=()
for server in "${servers[@]}"; do
    echo "== irctest against $server ($(date -u +%H:%M:%S) UTC)"
    status=0
    (cd "$irctest" && PYTHONPATH="$root" "$venv/bin/pytest" -p no:cacheprovider \
        --controller "bench.irctest_$server" irctest/server_tests/ -m "$selection" \
        -n "${IRCTEST_JOBS:-0}" \
        -q -rfEs --tb=short --junit-xml="$out/$server.xml" "$@") >"$out/$server.log" 2>&1 \
        || status=$?
    # pytest: 0 all passed, 1 some failed; anything else is a broken run.
    if [ $status -gt 1 ]; then
        tail -20 "$out/$server.log" >&2
        echo "bench/irctest.sh: pytest against $server stopped with status $status" >&2
        exit 1
    fi
    summary+=("$server: $(tail -1 "$out/$server.log" | tr -d '=')")
done
echo "selection: irctest/server_tests/ -m '$selection' (irctest $(git -C "$irctest" rev-parse --short HEAD 2>/dev/null || echo '?'))"
printf '%s\n' "${summary[@]}"
