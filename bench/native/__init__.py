"""
The bench's two C programs, compiled here with the machine's C compiler
the first time they are needed: the fan-out load generator
(C{fanload.c}) and the trivial server that measures it (C{fanserve.c}).

C because the generator must outrun the fastest server it measures on
the one CPU the server leaves it; Python, even with large receive
buffers and no per-line objects where it can, checks about a million
lines a second, several times too few.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCES = Path(__file__).resolve().parent


class NativeError(RuntimeError):
    """A C program of the bench could not be built."""


def program(name: str) -> Path:
    """
    The compiled C{name}.c for this run's line size, built once per
    version of its source into a cache folder of the temporary directory.

    @raise NativeError: if there is no C compiler or the build fails.
    """
    from bench import wire

    source = SOURCES / f"{name}.c"
    flags = [f"-DTEXT={wire.LINE_SIZE - 1}"]
    key = hashlib.sha256(source.read_bytes() + " ".join(flags).encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / "globalchat-bench-native"
    binary = cache / f"{name}-{key}"
    if binary.exists():
        return binary
    compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise NativeError("the load generator needs a C compiler: apt-get install gcc libc6-dev")
    cache.mkdir(exist_ok=True)
    partial = binary.with_name(f"{binary.name}.{os.getpid()}")
    done = subprocess.run([compiler, "-O2", *flags, "-o", str(partial), str(source)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise NativeError(f"building {source.name} failed: {done.stderr.strip()[-500:]}")
    partial.replace(binary)
    return binary
