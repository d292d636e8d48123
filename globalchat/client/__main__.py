"""
C{python -m globalchat.client}: the same as C{globalchat-client}.
"""

from globalchat.client.cli import main

main()
