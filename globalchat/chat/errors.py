"""
The exceptions the chat logic raises for a refused line.
"""


class ChatError(Exception):
    """
    The client's line was refused; C{str()} is the explanation it is sent
    on an C{ERROR} line.
    """


class WrongPassword(ChatError):
    """
    A login's credentials were refused: besides the answer, a strike
    against the client's address.
    """


class ControlCharacters(ChatError):
    """
    A line held control characters (escape sequences): besides the
    answer, counted among the dropped lines.
    """
