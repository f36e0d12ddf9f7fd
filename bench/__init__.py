"""Benchmarks of the pure domain code; run with ``python -m bench``."""
