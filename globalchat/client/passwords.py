# -*- test-case-name: tests.test_client_passwords -*-
"""
The passwords C{globalchat-client} gives: the one a login asks for, and
the new one C{/register} makes.

A password is never taken from the command line, where other users of
the machine can read it: a script gives C{--password-file} or
C{GLOBALCHAT_PASSWORD}, and a person types it without echo.
"""

from __future__ import annotations

import getpass
import os

from globalchat.auth import askNewPassword
from globalchat.chat.wire import command


class NoPassword(Exception):
    """
    A password is due and there is none to give; the message says where
    a script gives one.
    """


def loginPassword(name: str, given: str | None, interactive: bool) -> str:
    """
    The password for the login as C{name} (an account's, or the
    server's: the server's C{AUTH name} does not say which).

    @param given: the password of C{--password-file}, if there was one.
    @param interactive: whether a person is at the terminal to ask.
    @raise NoPassword: if a script gave none.
    """
    if given is not None:
        return given
    if os.environ.get("GLOBALCHAT_PASSWORD"):
        return os.environ["GLOBALCHAT_PASSWORD"]
    if interactive:
        return getpass.getpass(f"Password for {name}: ")
    raise NoPassword("set GLOBALCHAT_PASSWORD or use --password-file")


def registerLine(line: bytes) -> bytes:
    """
    A line typed on a terminal, with C{/register} alone completed by a new
    password asked twice without echo, so that the password is neither
    shown on the screen nor left in the terminal's scrollback.  Any other
    line is returned as it is.

    @raise ValueError: if the two passwords differ; nothing is to be sent.
    """
    text = line.decode("utf-8", "replace").strip()
    if command(text) != "register" or " " in text:
        return line
    return b"/register " + askNewPassword("New password for your account: ").encode("utf-8")
