"""
The C{twistd globalchat} drop-in.  It names the module as a string so that
nothing is imported until the subcommand runs.
"""

from twisted.application.service import ServiceMaker

globalchat = ServiceMaker(
    "globalchat",
    "globalchat.tap",
    "A chat server reachable across the internet.",
    "globalchat",
)
