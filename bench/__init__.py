"""Benchmarks, not tests: each module runs alone (`python -m bench.<name>`) and prints one line per figure.

Timing assertions never go in tests/; the targets are checked here and by scripts/bench.
"""
