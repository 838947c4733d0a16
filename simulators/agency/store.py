"""The simulator's own SQLite storage: agencies, their resident records, generated payloads, the
information provision network's records, fault settings, spent assertion ids, the mis-link reports the
portal sent, the residents' answers to the notices the simulator sent (received at its webhook), the
banks' accounts with the account-name checks the portal asked for (never the names it sent), and the
proxies the medical insurer holds as registered (代理人の登録).

Every worker process opens the same file, so fault settings and the ``jti`` replay list live here rather
than in memory. Records are keyed only by agency-specific codes: this module must never be handed, and
never stores, a My Number.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agencies (
    id TEXT PRIMARY KEY, name_ja TEXT NOT NULL, name_en TEXT NOT NULL, categories TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS residents (
    agency_id TEXT NOT NULL, agency_code TEXT NOT NULL,
    name TEXT NOT NULL, name_kana TEXT NOT NULL, birth_date TEXT NOT NULL, sex TEXT NOT NULL,
    address TEXT NOT NULL,
    PRIMARY KEY (agency_id, agency_code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS self_information (
    agency_id TEXT NOT NULL, agency_code TEXT NOT NULL, category TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (agency_id, agency_code, category)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS provision_records (
    agency_id TEXT NOT NULL, agency_code TEXT NOT NULL, record_id TEXT NOT NULL, occurred_at TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (agency_id, agency_code, record_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS faults (
    agency_id TEXT PRIMARY KEY, latency_ms INTEGER NOT NULL, error_rate REAL NOT NULL,
    outage INTEGER NOT NULL, retry_after_s INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS used_jti (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS mislink_reports (
    agency_id TEXT NOT NULL, report_id TEXT NOT NULL, agency_code TEXT NOT NULL, category TEXT NOT NULL,
    reason TEXT NOT NULL, observed TEXT NOT NULL, reported_at TEXT NOT NULL, received_at TEXT NOT NULL,
    idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL,
    PRIMARY KEY (agency_id, report_id),
    UNIQUE (agency_id, idempotency_key)
);
CREATE TABLE IF NOT EXISTS notice_responses (
    agency_id TEXT NOT NULL, event_id TEXT NOT NULL, received_at TEXT NOT NULL, event TEXT NOT NULL,
    PRIMARY KEY (agency_id, event_id)
);
CREATE TABLE IF NOT EXISTS bank_accounts (
    bank_code TEXT NOT NULL, branch_code TEXT NOT NULL, account_type TEXT NOT NULL,
    account_number TEXT NOT NULL, holder_kana TEXT NOT NULL, closed INTEGER NOT NULL,
    PRIMARY KEY (bank_code, branch_code, account_type, account_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bank_checks (
    check_id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, fingerprint TEXT NOT NULL,
    bank_code TEXT NOT NULL, branch_code TEXT NOT NULL, account_type TEXT NOT NULL,
    account_number TEXT NOT NULL, result TEXT NOT NULL, checked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS proxy_registrations (
    agency_id TEXT NOT NULL, registration_id TEXT NOT NULL, agency_code TEXT NOT NULL,
    proxy_code TEXT NOT NULL, proxy_name TEXT NOT NULL, relationship TEXT NOT NULL, valid_until TEXT NOT NULL,
    registered_at TEXT, withdrawn_at TEXT, withdrawal_reason TEXT NOT NULL, fingerprint TEXT NOT NULL,
    reads INTEGER NOT NULL DEFAULT 0, last_read_at TEXT,
    PRIMARY KEY (agency_id, registration_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS used_jti_expiry ON used_jti (expires_at);
"""


class IdempotencyConflict(Exception):
    """An idempotency key was reused for a different request."""


class RegistrationWithdrawn(Exception):
    """A proxy registration id that was withdrawn (or withdrawn before it arrived): never active again."""


def _report(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "report_id": row["report_id"],
        "agency_code": row["agency_code"],
        "category": row["category"],
        "reason": row["reason"],
        "observed": json.loads(row["observed"]),
        "reported_at": row["reported_at"],
        "received_at": row["received_at"],
        "idempotency_key": row["idempotency_key"],
        "fingerprint": row["fingerprint"],
    }


@dataclass(frozen=True)
class AgencyRow:
    id: str
    name_ja: str
    name_en: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class ResidentRow:
    agency_id: str
    agency_code: str
    name: str
    name_kana: str
    birth_date: str
    sex: str
    address: str


@dataclass(frozen=True)
class BankAccountRow:
    """An account as its bank holds it; ``holder_kana`` is the 口座名義 and never leaves the simulator."""

    bank_code: str
    branch_code: str
    account_type: str
    account_number: str
    holder_kana: str
    closed: bool

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.bank_code, self.branch_code, self.account_type, self.account_number)


@dataclass(frozen=True)
class ProxyRegistrationRow:
    """A proxy the agency holds as registered for one of its residents, both known by its own codes.

    ``registered_at`` is None for a withdrawal that arrived before its registration (kept so that the late
    registration is refused); ``withdrawn_at`` is set once withdrawn, for good.
    """

    agency_id: str
    registration_id: str
    agency_code: str
    proxy_code: str
    proxy_name: str
    relationship: str
    valid_until: str
    registered_at: str | None
    withdrawn_at: str | None
    withdrawal_reason: str
    fingerprint: str
    reads: int = 0
    last_read_at: str | None = None


@dataclass(frozen=True)
class FaultRow:
    latency_ms: int
    error_rate: float
    outage: bool
    retry_after_s: int


class Store:
    """Thin, synchronous access to the database; call it from a worker thread in async code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One short-lived connection per operation: cheap for SQLite and safe across threads and processes.
        with closing(sqlite3.connect(self.path, timeout=10, isolation_level=None)) as conn:
            conn.row_factory = sqlite3.Row
            yield conn

    def create_schema(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # readers never wait for the one writer
            conn.executescript(_SCHEMA)

    def replace_records(
        self,
        agencies: Iterable[AgencyRow],
        residents: Iterable[ResidentRow],
        payloads: Iterable[tuple[str, str, str, dict[str, Any]]],
        meta: dict[str, str],
        provision_records: Iterable[tuple[str, str, dict[str, Any]]] = (),
        bank_accounts: Iterable[BankAccountRow] = (),
    ) -> None:
        """Swap in a freshly generated world in one transaction; faults, spent ``jti``s, mis-link reports
        and account-name checks are kept.

        ``provision_records`` are ``(agency_id, agency_code, record)`` with the record as the API serves it;
        ``bank_accounts`` replace every account, those added at run time included.
        """
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table in ("agencies", "residents", "self_information", "provision_records"):
                    conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
                self._write_bank_accounts(conn, bank_accounts)
                conn.executemany(
                    "INSERT INTO agencies VALUES (?, ?, ?, ?)",
                    [(a.id, a.name_ja, a.name_en, json.dumps(list(a.categories))) for a in agencies],
                )
                conn.executemany(
                    "INSERT INTO residents VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (r.agency_id, r.agency_code, r.name, r.name_kana, r.birth_date, r.sex, r.address)
                        for r in residents
                    ],
                )
                conn.executemany(
                    "INSERT INTO self_information VALUES (?, ?, ?, ?)",
                    [
                        (a, c, cat, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
                        for a, c, cat, data in payloads
                    ],
                )
                conn.executemany(
                    "INSERT INTO provision_records VALUES (?, ?, ?, ?, ?)",
                    [
                        (a, c, r["id"], r["occurred_at"], json.dumps(r, ensure_ascii=False))
                        for a, c, r in provision_records
                    ],
                )
                conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def agency(self, agency_id: str) -> AgencyRow | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM agencies WHERE id = ?", (agency_id,)).fetchone()
        if row is None:
            return None
        return AgencyRow(row["id"], row["name_ja"], row["name_en"], tuple(json.loads(row["categories"])))

    def agency_ids(self) -> list[str]:
        with self._connect() as conn:
            return [r["id"] for r in conn.execute("SELECT id FROM agencies ORDER BY id")]

    def resident(self, agency_id: str, agency_code: str) -> ResidentRow | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM residents WHERE agency_id = ? AND agency_code = ?", (agency_id, agency_code)
            ).fetchone()
        return None if row is None else ResidentRow(**dict(row))

    def payload_text(self, agency_id: str, agency_code: str, category: str) -> str | None:
        """The stored payload as JSON text (validated at ``init``), ready to be sent as it is."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT data FROM self_information WHERE agency_id = ? AND agency_code = ? AND category = ?",
                (agency_id, agency_code, category),
            ).fetchone()
        return None if row is None else str(row["data"])

    def payload(self, agency_id: str, agency_code: str, category: str) -> dict[str, Any] | None:
        text = self.payload_text(agency_id, agency_code, category)
        return None if text is None else json.loads(text)

    def add_mislink_report(self, agency_id: str, report: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store a report unless its idempotency key was used before.

        Returns the stored report (the earlier one on a replay) and whether it was a replay; raises
        :class:`IdempotencyConflict` when the key was used for a different report.
        """
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # the look-up and the insert are one step for concurrent workers
            try:
                row = conn.execute(
                    "SELECT * FROM mislink_reports WHERE agency_id = ? AND idempotency_key = ?",
                    (agency_id, report["idempotency_key"]),
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO mislink_reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            agency_id,
                            report["report_id"],
                            report["agency_code"],
                            report["category"],
                            report["reason"],
                            json.dumps(report["observed"], sort_keys=True),
                            report["reported_at"],
                            report["received_at"],
                            report["idempotency_key"],
                            report["fingerprint"],
                        ),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if row is None:
            return report, False
        if row["fingerprint"] != report["fingerprint"]:
            raise IdempotencyConflict(row["report_id"])
        return _report(row), True

    def mislink_reports(self, agency_id: str) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM mislink_reports WHERE agency_id = ? ORDER BY received_at, report_id",
                (agency_id,),
            ).fetchall()
        return [_report(row) for row in rows]

    def clear_mislink_reports(self, agency_id: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM mislink_reports WHERE agency_id = ?", (agency_id,))

    def add_notice_response(self, agency_id: str, event_id: str, received_at: str, event: str) -> bool:
        """Keep one webhook event; False when this ``event_id`` was stored before (a retry)."""
        with self._connect() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO notice_responses VALUES (?, ?, ?, ?)",
                (agency_id, event_id, received_at, event),
            )
            return cursor.rowcount == 1

    def notice_responses(self, agency_id: str) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM notice_responses WHERE agency_id = ? ORDER BY received_at, event_id",
                (agency_id,),
            ).fetchall()
        return [
            {"event_id": r["event_id"], "received_at": r["received_at"], "event": json.loads(r["event"])}
            for r in rows
        ]

    def clear_notice_responses(self, agency_id: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM notice_responses WHERE agency_id = ?", (agency_id,))

    def provision_records(
        self, agency_id: str, agency_code: str, since: date | None = None
    ) -> list[dict[str, Any]]:
        """The network's records about one code, oldest first; ``since`` keeps those from that JST day on."""
        # Every occurred_at is ISO 8601 in +09:00, so comparing strings compares JST times.
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT data FROM provision_records"
                " WHERE agency_id = ? AND agency_code = ? AND occurred_at >= ?"
                " ORDER BY occurred_at, record_id",
                (agency_id, agency_code, since.isoformat() if since else ""),
            ).fetchall()
        return [json.loads(row["data"]) for row in rows]

    @staticmethod
    def _write_bank_accounts(conn: sqlite3.Connection, accounts: Iterable[BankAccountRow]) -> None:
        conn.execute("DELETE FROM bank_accounts")
        conn.executemany(
            "INSERT INTO bank_accounts VALUES (?, ?, ?, ?, ?, ?)",
            [(*a.key, a.holder_kana, int(a.closed)) for a in accounts],
        )

    def replace_bank_accounts(self, accounts: Iterable[BankAccountRow]) -> None:
        """Every bank account at once (back to the seed); the checks already answered are kept."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._write_bank_accounts(conn, accounts)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def put_bank_account(self, account: BankAccountRow) -> bool:
        """Open (or replace) one account; True when it replaced one with the same bank, branch, type and
        number."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                existed = conn.execute(
                    "SELECT 1 FROM bank_accounts WHERE bank_code = ? AND branch_code = ? AND account_type = ?"
                    " AND account_number = ?",
                    account.key,
                ).fetchone()
                conn.execute(
                    "INSERT OR REPLACE INTO bank_accounts VALUES (?, ?, ?, ?, ?, ?)",
                    (*account.key, account.holder_kana, int(account.closed)),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return existed is not None

    def bank_account(
        self, bank_code: str, branch_code: str, account_type: str, account_number: str
    ) -> BankAccountRow | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM bank_accounts WHERE bank_code = ? AND branch_code = ? AND account_type = ?"
                " AND account_number = ?",
                (bank_code, branch_code, account_type, account_number),
            ).fetchone()
        if row is None:
            return None
        return BankAccountRow(**{**dict(row), "closed": bool(row["closed"])})

    def add_bank_check(self, check: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Keep one answered check unless its idempotency key was used before.

        Returns the stored check (the earlier one on a replay) and whether it was a replay; raises
        :class:`IdempotencyConflict` when the key was used for a different request.
        """
        columns = (
            "check_id",
            "idempotency_key",
            "fingerprint",
            "bank_code",
            "branch_code",
            "account_type",
            "account_number",
            "result",
            "checked_at",
        )
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # the look-up and the insert are one step for concurrent workers
            try:
                row = conn.execute(
                    "SELECT * FROM bank_checks WHERE idempotency_key = ?", (check["idempotency_key"],)
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO bank_checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        tuple(check[c] for c in columns),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if row is None:
            return check, False
        if row["fingerprint"] != check["fingerprint"]:
            raise IdempotencyConflict(row["check_id"])
        return dict(row), True

    def bank_checks(self) -> list[dict[str, Any]]:
        """The checks answered, oldest first, without their fingerprints."""
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM bank_checks ORDER BY rowid").fetchall()
        checks = [dict(row) for row in rows]
        for check in checks:
            del check["fingerprint"]
        return checks

    def clear_bank_checks(self) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM bank_checks")

    def add_proxy_registration(self, row: ProxyRegistrationRow) -> tuple[ProxyRegistrationRow, bool]:
        """Keep a registration unless its id is known: the stored one and whether this was a replay.

        Raises :class:`RegistrationWithdrawn` for an id already withdrawn, and :class:`IdempotencyConflict`
        for an id held with another resident or other terms.
        """
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # the look-up and the insert are one step for concurrent workers
            try:
                stored = self._proxy_registration(conn, row.agency_id, row.registration_id)
                if stored is None:
                    conn.execute(
                        "INSERT INTO proxy_registrations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL)",
                        (
                            row.agency_id,
                            row.registration_id,
                            row.agency_code,
                            row.proxy_code,
                            row.proxy_name,
                            row.relationship,
                            row.valid_until,
                            row.registered_at,
                            row.withdrawn_at,
                            row.withdrawal_reason,
                            row.fingerprint,
                        ),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if stored is None:
            return row, False
        if stored.withdrawn_at is not None:
            raise RegistrationWithdrawn(stored.registration_id)
        if (stored.agency_code, stored.fingerprint) != (row.agency_code, row.fingerprint):
            raise IdempotencyConflict(stored.registration_id)
        return stored, True

    def withdraw_proxy_registration(
        self, agency_id: str, agency_code: str, registration_id: str, withdrawn_at: str, reason: str
    ) -> tuple[ProxyRegistrationRow, bool] | None:
        """Withdraw a registration of this resident: the row as withdrawn and whether it was before.

        An id the agency never saw is kept as withdrawn (a registration arriving after it is refused); an
        id held for another resident is None (not theirs to withdraw).
        """
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                stored = self._proxy_registration(conn, agency_id, registration_id)
                if stored is None:
                    conn.execute(
                        "INSERT INTO proxy_registrations"
                        " VALUES (?, ?, ?, '', '', '', '', NULL, ?, ?, '', 0, NULL)",
                        (agency_id, registration_id, agency_code, withdrawn_at, reason),
                    )
                elif stored.agency_code == agency_code and stored.withdrawn_at is None:
                    conn.execute(
                        "UPDATE proxy_registrations SET withdrawn_at = ?, withdrawal_reason = ?"
                        " WHERE agency_id = ? AND registration_id = ?",
                        (withdrawn_at, reason, agency_id, registration_id),
                    )
                after = self._proxy_registration(conn, agency_id, registration_id)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if after is None or after.agency_code != agency_code:
            return None
        return after, stored is not None and stored.withdrawn_at is not None

    def proxy_registration(self, agency_id: str, registration_id: str) -> ProxyRegistrationRow | None:
        with self._connect() as conn:
            return self._proxy_registration(conn, agency_id, registration_id)

    @staticmethod
    def _proxy_registration(
        conn: sqlite3.Connection, agency_id: str, registration_id: str
    ) -> ProxyRegistrationRow | None:
        row = conn.execute(
            "SELECT * FROM proxy_registrations WHERE agency_id = ? AND registration_id = ?",
            (agency_id, registration_id),
        ).fetchone()
        return None if row is None else ProxyRegistrationRow(**dict(row))

    def proxy_read_count(self, agency_id: str, registration_id: str, read_at: str) -> None:
        """Counts one request a registered proxy made (the insurer's own log of proxy reads)."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE proxy_registrations SET reads = reads + 1, last_read_at = ?"
                " WHERE agency_id = ? AND registration_id = ?",
                (read_at, agency_id, registration_id),
            )

    def proxy_registrations(self, agency_id: str) -> list[ProxyRegistrationRow]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM proxy_registrations WHERE agency_id = ?"
                " ORDER BY coalesce(registered_at, withdrawn_at), registration_id",
                (agency_id,),
            ).fetchall()
        return [ProxyRegistrationRow(**dict(row)) for row in rows]

    def clear_proxy_registrations(self, agency_id: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM proxy_registrations WHERE agency_id = ?", (agency_id,))

    def faults(self, agency_id: str) -> FaultRow | None:
        """The agency's fault override, or None when it runs on the environment's defaults."""
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM faults WHERE agency_id = ?", (agency_id,)).fetchone()
        if row is None:
            return None
        return FaultRow(row["latency_ms"], row["error_rate"], bool(row["outage"]), row["retry_after_s"])

    def set_faults(self, agency_id: str, faults: FaultRow) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO faults VALUES (?, ?, ?, ?, ?)",
                (agency_id, faults.latency_ms, faults.error_rate, int(faults.outage), faults.retry_after_s),
            )

    def clear_faults(self, agency_id: str | None = None) -> None:
        with self._connect() as conn:
            if agency_id is None:
                conn.execute("DELETE FROM faults")
            else:
                conn.execute("DELETE FROM faults WHERE agency_id = ?", (agency_id,))

    def spend_jti(self, jti: str, expires_at: int, now: int) -> bool:
        """Record ``jti`` as used until ``expires_at``; False when it was already used (a replay)."""
        with self._connect() as conn:
            conn.execute("DELETE FROM used_jti WHERE expires_at < ?", (now,))
            try:
                conn.execute("INSERT INTO used_jti VALUES (?, ?)", (jti, expires_at))
            except sqlite3.IntegrityError:
                return False
        return True

    def meta(self) -> dict[str, str]:
        with self._connect() as conn:
            return {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}
