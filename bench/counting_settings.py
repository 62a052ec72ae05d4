"""The product's settings with the benchmark's work counters (bench/counters.py) in every process that has
``BENCH_COUNTERS_DIR``."""

import os

from portal.settings import *  # noqa: F403

if os.environ.get("BENCH_COUNTERS_DIR"):
    from bench import counters

    counters.install()
