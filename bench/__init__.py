"""Benchmarks: comparisons of hubbleclip against baselines, outside the installed library.

Run each from the repository root as a module, e.g. ``python -m bench.bench_search --help``.
"""
