"""Measurements of the tools: the serve load test (:mod:`.loadtest`) and the epoch benchmark.

Nothing here prints: each function returns its report, and the command line or a script
shows it.
"""
