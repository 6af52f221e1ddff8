"""kerasmgr's benchmark harness (not part of the installed package): ``python bin/benchmark.py``."""
