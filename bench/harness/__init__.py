"""What each ``bench/bench_*.py`` script measures; they use hubbleclip's public API only."""
