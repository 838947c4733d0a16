"""The bench database and the sessions benchmarks log in with: created, migrated and seeded when missing.

Import after bench_environment(). Never point it at the demo's or the tests' database.
"""

import io
import sys
import time
from importlib import import_module

import psycopg
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management import call_command
from psycopg import sql

from portal.identity.middleware import SESSION_LAST_SEEN, SESSION_LOGIN_AT
from portal.identity.models import Resident, User


def database_create() -> None:
    """CREATE DATABASE when missing: migrate cannot make the database it connects to."""
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))


def database_prepare(residents: int, *, bench: str) -> None:
    """Schema, demo keys and enough synthetic residents that no table is trivially small."""
    database_create()
    call_command("migrate", interactive=False, verbosity=0)
    missing = max(0, residents - Resident.objects.count())
    if missing:
        print(f"{bench}: seeding {missing} residents…", file=sys.stderr, flush=True)
    # seed_demo's own output (the staff password) is not a figure.
    call_command("seed_demo", residents=missing, stdout=io.StringIO())


def logged_in_session(user: User) -> str:
    """A session as the card login leaves it (identity.views._start_session); returns its key."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    now = time.time()
    store.update(
        {
            SESSION_KEY: user._meta.pk.value_to_string(user),
            BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
            HASH_SESSION_KEY: user.get_session_auth_hash(),
            SESSION_LOGIN_AT: now,
            SESSION_LAST_SEEN: now,
        }
    )
    store.create()
    return store.session_key


def resident_sessions(count: int) -> list[str]:
    """One resident per connection: one resident's history chain would serialise every write on its row."""
    residents = Resident.objects.select_related("user").order_by("pk")[:count]
    return [logged_in_session(resident.user) for resident in residents]
