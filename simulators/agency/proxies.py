"""代理人の登録: the proxies the medical insurance data service holds as registered, and its rule for a
proxy's request.

An agency that serves the medical categories keeps registrations the portal makes and withdraws: whose
proxy (its own code for the resident), who (its own code for the proxy and the name on the proxy's card),
in what relationship and until when. A request that says it comes from a proxy (the ``Proxy-Registration``
header, naming a registration) is answered only under a registration of that very resident that is
active and unexpired; a request without the header is the resident's or the portal's own, as before.
This module must never see a My Number, nor accept a proxy named by anything but a registration id.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date

from .errors import ApiError
from .store import AgencyRow, ProxyRegistrationRow

#: The categories whose agency keeps proxy registrations (医療保険者等向け中間サーバー).
MEDICAL_CATEGORIES = frozenset({"medical_drugs", "medical_checkups", "medical_expenses"})
#: The request header by which the portal says which registered proxy asked.
PROXY_HEADER = "Proxy-Registration"


def keeps_proxy_registrations(agency: AgencyRow) -> bool:
    return bool(MEDICAL_CATEGORIES & set(agency.categories))


def not_served(agency: AgencyRow) -> ApiError:
    return ApiError(
        404,
        "proxy_registrations_not_served",
        f"Agency '{agency.id}' keeps no proxy registrations (only the medical insurance service does).",
    )


def registration_fingerprint(*, proxy_code: str, proxy_name: str, relationship: str, valid_until: str) -> str:
    """What makes two registrations under one id the same one."""
    terms = [proxy_code, proxy_name, relationship, valid_until]
    return hashlib.sha256(json.dumps(terms, ensure_ascii=False).encode("utf-8")).hexdigest()


def proxy_refusal(
    registration: ProxyRegistrationRow | None, *, agency_code: str, today: date
) -> ApiError | None:
    """Why a proxy's request under this registration is refused (403), or None when it may be answered.

    A registration of another resident reads as unknown: a registration id opens one resident's records.
    """
    if registration is None or registration.agency_code != agency_code or registration.registered_at is None:
        return ApiError(
            403,
            "proxy_not_registered",
            "This agency holds no registration of this proxy for this resident.",
        )
    if registration.withdrawn_at is not None:
        return ApiError(
            403,
            "proxy_registration_withdrawn",
            "This proxy's registration was withdrawn: the proxy no longer acts for this resident.",
        )
    if date.fromisoformat(registration.valid_until) < today:
        return ApiError(
            403,
            "proxy_registration_expired",
            "This proxy's registration has passed its last day.",
        )
    return None
