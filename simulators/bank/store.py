"""The bank's own records, in SQLite: mortgage applications (one OAuth flow each) and the portal's notices
that a consent ended.

A simulator's store: the access token and the DPoP key of an application are kept as they are, so that
"check again" can use them; a real bank would encrypt them. Nothing here is ever sent back to the portal
except through the OAuth flow itself.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS applications (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS applications_session ON applications (session_id, created_at);
CREATE TABLE IF NOT EXISTS consent_events (
    consent_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    received_at REAL NOT NULL,
    claims TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS consent_events_subject ON consent_events (subject);
"""


@dataclass
class Application:
    """住宅ローン事前審査の申込み: one applicant's pre-screening, from the pushed request to the data read."""

    id: str
    session_id: str
    state: str
    nonce: str
    code_verifier: str
    dpop_key: dict[str, Any]  # the private JWK the tokens of this application are bound to
    created_at: float = field(default_factory=time.time)
    # started -> authorized -> pending (the portal is fetching) -> completed; or declined / failed
    status: str = "started"
    access_token: str | None = None
    refresh_token: str | None = None
    token_expires_at: float | None = None
    scope: str = ""
    subject: str | None = None  # the pairwise sub of the ID token
    income: dict[str, Any] | None = None  # the resource API's envelope for income_tax
    userinfo: dict[str, Any] | None = None
    problem: dict[str, Any] | None = None  # BankProblem.as_dict() of the last failure
    retry_after: int | None = None
    last_check: dict[str, Any] | None = None  # outcome of the latest "check again"

    def token_expired(self, now: float | None = None) -> bool:
        if self.token_expires_at is None:
            return False
        return (time.time() if now is None else now) >= self.token_expires_at


@dataclass(frozen=True)
class ConsentEvent:
    consent_id: str
    subject: str
    reason: str
    ended_at: str
    received_at: float


class BankStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    def application_save(self, application: Application) -> None:
        body = json.dumps(dataclasses.asdict(application), ensure_ascii=False)
        with self._connect() as db:
            db.execute(
                "INSERT INTO applications (id, session_id, created_at, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                (application.id, application.session_id, application.created_at, body),
            )

    def application_latest(self, session_id: str) -> Application | None:
        """The newest application started in this browser."""
        with self._connect() as db:
            row = db.execute(
                "SELECT body FROM applications WHERE session_id = ? ORDER BY created_at DESC LIMIT 1",
                (session_id,),
            ).fetchone()
        return Application(**json.loads(row[0])) if row else None

    def consent_event_add(self, claims: dict[str, Any]) -> bool:
        """Keeps a consent-ended notice; False when this consent's end was already known (a re-send)."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO consent_events "
                "(consent_id, subject, reason, ended_at, received_at, claims) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    claims["consent"],
                    claims["sub"],
                    claims["reason"],
                    str(claims["ended_at"]),
                    time.time(),
                    json.dumps(claims, ensure_ascii=False),
                ),
            )
            return cursor.rowcount == 1

    def consent_events(self, *, subject: str | None = None, limit: int = 50) -> list[ConsentEvent]:
        query = "SELECT consent_id, subject, reason, ended_at, received_at FROM consent_events"
        params: tuple[Any, ...] = ()
        if subject is not None:
            query += " WHERE subject = ?"
            params = (subject,)
        with self._connect() as db:
            rows = db.execute(f"{query} ORDER BY received_at DESC LIMIT ?", (*params, limit)).fetchall()
        return [ConsentEvent(*row) for row in rows]
