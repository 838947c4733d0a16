"""Read-only queries: the consent pages', and the fixed reads of the token endpoint and resource API."""

from typing import Any

from portal.consents.models import AuthorizationCode, Consent, IssuedToken
from portal.core.rows import Columns, FixedRead, related_cache
from portal.firms.models import Firm, FirmClient
from portal.identity.models import Resident


def consents_of(*, resident: Resident) -> list[Consent]:
    """Every consent the resident gave, active ones first, newest first within each."""
    consents = list(Consent.objects.filter(resident=resident).select_related("firm").order_by("-starts_at"))
    consents.sort(key=lambda c: c.state != "active")
    return consents


# --- what the token endpoint and the resource API read on every call ------------------------------------
# Fixed SQL (portal/core/rows.py): the ORM compiled these joins anew on every call, at several times the
# cost of the query (bench/README.md, consent API). The consent, its firm and client come whole, since the
# checks and the callers read most of them; the resident only as the sub and the history need it.

_CONSENT = Columns(Consent, "c")
_FIRM = Columns(Firm, "f")
_CLIENT = Columns(FirmClient, "k")
_RESIDENT = Columns(Resident, "r", ("id", "public_id"))


def _consent_joins() -> str:
    return (
        f"JOIN {_CONSENT.table} ON c.id = x.consent_id JOIN {_FIRM.table} ON f.id = c.firm_id "
        f"JOIN {_CLIENT.table} ON k.id = c.client_id JOIN {_RESIDENT.table} ON r.id = c.resident_id"
    )


_TOKEN_READ = FixedRead(
    (Columns(IssuedToken, "x"), _CONSENT, _FIRM, _CLIENT, _RESIDENT),
    lambda: f"FROM {Columns(IssuedToken, 'x').table} {_consent_joins()} WHERE x.access_token_hash = %s",
)
_CODE_READ = FixedRead(
    (Columns(AuthorizationCode, "x"), _CONSENT, _FIRM, _CLIENT, _RESIDENT),
    lambda: (
        f"FROM {Columns(AuthorizationCode, 'x').table} {_consent_joins()} "
        "WHERE x.code_hash = %s AND x.client_id = %s"
    ),
)
_CLIENT_READ = FixedRead(
    (_CLIENT, _FIRM),
    lambda: f"FROM {_CLIENT.table} JOIN {_FIRM.table} ON f.id = k.firm_id WHERE k.client_id = %s",
)


def _with_consent(row: tuple[Any, ...]) -> Any:
    credential, consent, firm, client, resident = row
    related_cache(consent, "firm", firm)
    related_cache(consent, "client", client)
    related_cache(consent, "resident", resident)
    related_cache(client, "firm", firm)
    related_cache(credential, "consent", consent)
    if credential.client_id == client.pk:
        related_cache(credential, "client", client)
    return credential


def token_by_access_hash(access_token_hash: str) -> IssuedToken | None:
    """The access token with its consent, the consent's firm, client and resident (id and public id)."""
    row = _TOKEN_READ.one([access_token_hash])
    return _with_consent(row) if row else None


def code_by_hash(code_hash: str, *, client_pk: int) -> AuthorizationCode | None:
    """The client's code with its consent, the consent's firm, client and resident (id and public id)."""
    row = _CODE_READ.one([code_hash, client_pk])
    return _with_consent(row) if row else None


def client_by_client_id(client_id: str) -> FirmClient | None:
    """The client with its firm."""
    row = _CLIENT_READ.one([client_id])
    if row is None:
        return None
    client, firm = row
    related_cache(client, "firm", firm)
    return client
