"""
History: every room and private message, kept so that nothing said is
lost across disconnects and restarts.  L{globalchat.store.sqlite} keeps it
on disk; L{globalchat.store.memory} for C{--no-history}.
"""
