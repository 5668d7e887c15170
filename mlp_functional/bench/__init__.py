"""Benchmarks: a training epoch against its matrix products, peer libraries, load tests."""
