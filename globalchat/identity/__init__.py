"""
Who a client is: L{twisted.cred} checkers, one for each way in (a guest
name, the server password, a client certificate), and the realm that
makes a logged-in chat user.  Nothing here touches a socket.
"""
