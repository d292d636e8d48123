"""
Benchmarks of globalchat side by side with other chat servers; run with
C{python -m bench}.  Not tests: they print figures and assert nothing.
"""
