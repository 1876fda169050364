"""Benchmarks (run by `make bench`, never by the test suite). Figures go to BENCHMARKS.md."""
