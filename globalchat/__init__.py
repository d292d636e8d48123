"""
globalchat: a small Twisted chat daemon and client meant to be reached
across the internet.
"""

__version__ = "0.1.0"
