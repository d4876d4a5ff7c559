"""Results at scale, measured: duneasync against the official client and plain loops.

Run ``python -m benchmarks.results`` from the repository root (see ``__main__``).
"""
