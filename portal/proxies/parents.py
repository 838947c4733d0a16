"""Parents of children under 15 (親権者): recognised from the municipality's household record, without
an invitation, and ending on the child's fifteenth birthday.

The parent presents the child's card (the child's PIN: the parent holds both for a young child); its text
application gives the child's facts. The municipality's household record, fetched for the parent, must
list that child in the parent's own household. Never make a parent grant from facts the card gave alone.
"""

import datetime as dt
import unicodedata
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.core.errors import PortalError
from portal.identity.models import Resident
from portal.identity.services import ChildCard, child_card_take, child_folder_open
from portal.myinfo.selectors import myinfo_payload
from portal.myinfo.services import myinfo_refresh_start
from portal.proxies.insurer import insurer_registration_open
from portal.proxies.models import GrantKind, GrantState, ProxyGrant
from portal.proxies.scopes import SCOPE_CODES

CHILD_AGE_LIMIT = 15


def _same_name(a: str, b: str) -> bool:
    def key(text: str) -> str:
        return "".join(unicodedata.normalize("NFKC", text).split()).casefold()

    return key(a) == key(b)


def fifteenth_birthday(born: dt.date) -> dt.date:
    try:
        return born.replace(year=born.year + CHILD_AGE_LIMIT)
    except ValueError:  # born on 29 February
        return dt.date(born.year + CHILD_AGE_LIMIT, 3, 1)


def household_child(*, parent: Resident, name: str, born: dt.date) -> dict[str, Any]:
    """The household member this child is, from the parent's household record; else a clear refusal."""
    household = myinfo_payload(resident=parent, category="household")
    if household is None:
        raise PortalError(
            "household_unknown",
            "世帯の情報がまだありません。「わたしの情報」で世帯の情報を取得してから、もう一度お試しください。",
            "Your household record has not been fetched yet. Fetch it under My information, then try again.",
            409,
        )
    for member in household.get("members") or []:
        if not isinstance(member, dict):
            continue
        if _same_name(str(member.get("name", "")), name) and member.get("birth_date") == born.isoformat():
            return member
    raise PortalError(
        "not_in_household",
        "このカードのお子様は、住民記録であなたと同じ世帯にいません。同じ世帯の15歳未満のお子様だけを"
        "代理できます。",
        "The child of this card is not in your household on the resident register. You can act only for "
        "children under 15 in your own household.",
        403,
    )


@transaction.atomic
def child_link(*, parent: Resident, request_id: Any, browser_key: str) -> ProxyGrant:
    """Opens (or finds) the child's user folder and the parent's grant to act for the child until 15."""
    card: ChildCard = child_card_take(request_id=request_id, browser_key=browser_key, parent=parent)
    born = dt.date.fromisoformat(card.identity["birth_date"])
    ends = fifteenth_birthday(born) - dt.timedelta(days=1)
    if ends < timezone.localdate():
        raise PortalError(
            "child_not_under_15",
            "15歳以上の方は、ご自身のカードで利用者登録をしてください。代理が必要な場合は招待を使います。",
            "Children of 15 and over open their own user folder; for a proxy, use an invitation.",
            403,
        )
    if parent.my_number == card.identity["my_number"]:
        raise PortalError("self_child", "ご自身のカードです。", "This is your own card.", 403)
    member = household_child(parent=parent, name=card.identity["name"], born=born)
    child = child_folder_open(card=card, name_kana=str(member.get("name_kana") or ""))
    # The child's information is fetched now, as on a login, so that the parent finds it there.
    myinfo_refresh_start(resident=child)
    existing = ProxyGrant.objects.filter(
        principal=child, proxy=parent, kind=GrantKind.PARENT, state=GrantState.ACTIVE
    ).first()
    if existing is not None:
        return existing
    now = timezone.now()
    grant = ProxyGrant.objects.create(
        kind=GrantKind.PARENT,
        principal=child,
        proxy=parent,
        scopes=sorted(SCOPE_CODES),
        state=GrantState.ACTIVE,
        ends_on=ends,
        accepted_at=now,
        confirmed_at=now,
    )
    insurer_registration_open(grant=grant)
    return grant
