"""Benchmarks: ``python -m bench.newborn`` (see ``make bench``)."""
