"""
History: every room and private message, kept so that nothing said is
lost across disconnects and restarts, and beside it the accounts, rooms,
bans and audit log of L{globalchat.store.accounts}.
L{globalchat.store.sqlite} keeps them on disk; L{globalchat.store.memory}
for C{--no-history}.
"""
