"""Benchmarks and synthetic data for cpbridge (not shipped with the package)."""
