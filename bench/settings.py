"""The portal's own settings for the benchmarks, plus the baseline views to compare against (bench/urls.py).

Only bench/ uses this module; the environment (bench/environment.py) chooses PostgreSQL and Redis.
"""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
