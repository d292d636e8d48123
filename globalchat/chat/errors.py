"""
The one exception the chat logic raises for a refused line.
"""


class ChatError(Exception):
    """
    The client's line was refused; C{str()} is the explanation it is sent
    on an C{ERROR} line.
    """
