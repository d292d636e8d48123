"""
The browser's way in (C{--web}): a small site with a chat page and a
WebSocket that carries the line protocol, one line per text frame, into
the same hub as the line ports.
"""
