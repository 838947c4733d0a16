"""The environment every benchmark runs in: PostgreSQL, Redis and a var/ of its own, so a bench run never
touches the demo's or the tests' data. Values already set in the environment win (scripts/bench sets them).
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULTS = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "PORTAL_ENV": "test",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/portal_bench",
    "REDIS_URL": "redis://127.0.0.1:6379/13",
    "PORTAL_VAR_DIR": str(REPO / "var" / "bench"),
    "LOG_LEVEL": "WARNING",  # only figures on stdout; errors still show
}


def bench_environment() -> None:
    """Fill in the bench defaults, then set up Django. Call before importing anything from portal."""
    import django

    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    django.setup()
