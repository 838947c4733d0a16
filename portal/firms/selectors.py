"""Read-only queries of firms."""

import hmac
import uuid

from portal.firms.models import Firm
from portal.firms.services import manage_token_hash

MAX_TOKEN_CHARS = 100


def firm_by_manage_token(*, public_id: uuid.UUID | str, token: str) -> Firm | None:
    """The firm whose manage link this is, or None: an unknown firm and a wrong token look the same."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    firm = Firm.objects.filter(public_id=public_id).prefetch_related("purposes", "clients").first()
    expected = firm.manage_token_hash if firm else manage_token_hash("")
    given = manage_token_hash(token)
    if firm is None or not firm.manage_token_hash or not hmac.compare_digest(expected, given):
        return None
    return firm
