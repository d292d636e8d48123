"""
Several globalchat processes (nodes) that behave as one chat, through one
Redis: the connection, the names of what is kept there, the bus and the store.
"""
