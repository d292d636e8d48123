"""
The globalchat client: a Twisted protocol and the C{globalchat-client}
command built on it.
"""
