"""Benchmarks and the fault soak: ``python -m bench run`` and ``python -m bench soak`` (see docs/benchmarks.md)."""
