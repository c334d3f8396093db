"""Build-time tooling for build.py: assembling dist/, the demo server, the benchmarks.

Nothing here ships to the browser or is imported by the ``engage_web`` package.
"""
