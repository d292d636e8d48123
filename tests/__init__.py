"""
Tests for globalchat; run them with C{trial tests}.
"""
