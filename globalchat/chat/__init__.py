"""
The chat itself, free of I/O: who is connected, what a line means and who
receives it.  Nothing here touches a socket or the reactor, so a whole
conversation is a plain unit test; L{globalchat.server} drives it.
"""
