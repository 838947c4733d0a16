"""Sessions kept in the database and cached in Redis, that carry on from the database alone while Redis
is down (Django's ``cached_db`` gives up on a failed cache write after reading the database: a 500).

The database is the session's truth either way; only the cache copy is skipped, and logged.
"""

import logging

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

from portal.core.outages import SHARED_CACHE_UNREACHABLE

logger = logging.getLogger(__name__)


class SessionStore(cached_db.SessionStore):
    def load(self) -> dict:
        try:
            return super().load()
        except SHARED_CACHE_UNREACHABLE:
            logger.warning("session cache unreachable: session read from the database alone")
            return DatabaseSessionStore.load(self)

    def exists(self, session_key: str) -> bool:
        try:
            return super().exists(session_key)
        except SHARED_CACHE_UNREACHABLE:
            return DatabaseSessionStore.exists(self, session_key)

    def delete(self, session_key: str | None = None) -> None:
        # The database row goes first (Django's order), so a logout ends the session even now; a cache copy
        # left behind dies with Redis unless it keeps its data, and then with the idle timeout.
        try:
            super().delete(session_key)
        except SHARED_CACHE_UNREACHABLE:
            logger.error("session cache unreachable: session deleted from the database only")
