"""
The IRC client protocol (C{--irc}): a second protocol over the hub.

An IRC client joins the same rooms, under the same names, as the line
port's and the browser's clients: the hub and the bus say what happened,
L{globalchat.irc.render} shows it the IRC way, and
L{globalchat.irc.session} turns IRC commands into the hub's calls.
"""
