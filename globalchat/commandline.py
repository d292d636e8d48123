# -*- test-case-name: tests.test_commandline -*-
"""
What every globalchat command does with a command line it cannot use.

A mistyped option is the most common mistake of all, and the answer it
deserves is one line: what is wrong, the option that was probably meant,
and where the help is.  Neither C{argparse} (its whole usage first) nor
twistd (all of C{--help} first, under the name C{twistd -n}) gives that on
its own: the console scripts build their parser with L{ArgumentParser},
and C{twistd globalchat} (L{globalchat.tap.Options}) uses L{didYouMean}
and L{helpPointer} too.
"""

from __future__ import annotations

import argparse
import difflib
from typing import Iterable, NoReturn


def didYouMean(given: str, known: Iterable[str]) -> str:
    """
    C{"; did you mean --port?"} when one of the C{known} option strings is
    close to C{given}, else C{""}.
    """
    close = difflib.get_close_matches(given.partition("=")[0], list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def portNumber(text: str) -> int:
    """
    A TCP port number as given on a command line.

    @raise argparse.ArgumentTypeError: naming what a port number is.
    """
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"must be a number from 1 to 65535, not {text!r}")
    return int(text)


def whyUnusable(error: Exception, expected: str) -> str:
    """
    Why a file named on the command line cannot be used, in a user's
    words: the system's reason it cannot be read, or that it is not the
    C{expected} kind of file, instead of a decoder's or a codec's words.
    """
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"it is not {expected}"


def helpPointer(program: str) -> str:
    """
    Where the full help is, for the end of an error line.
    """
    return f" (see {program} --help)"


class ArgumentParser(argparse.ArgumentParser):
    """
    An C{argparse} parser whose errors are one line, with a suggestion for
    a mistyped option and a pointer to C{--help}, and exit status 2.
    """

    def parse_args(self, args=None, namespace=None) -> argparse.Namespace:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            unknown = extras[0]
            hint = didYouMean(unknown, self._option_string_actions) if unknown.startswith("-") else ""
            self.error(f"unrecognized argument {unknown}{hint}")
        return parsed

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}{helpPointer(self.prog)}\n")
