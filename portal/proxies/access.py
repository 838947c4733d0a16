"""Who a page is about and who is looking: the resident, or a proxy acting for a principal within scopes.

Every resident page that shows personal data asks `subject(request, scope)` for the owner of the data and
the actor to record; a proxy without the scope is refused before anything is read. The grant is checked
again on every request, so ending it stops the proxy at once.
"""

import uuid
from dataclasses import dataclass

from django.db import connection
from django.http import Http404, HttpRequest
from django.utils import timezone

from portal.core.errors import PortalError
from portal.core.rows import Columns, FixedRead, related_cache
from portal.history.services import Actor
from portal.identity.models import Resident
from portal.proxies.models import GrantState, ProxyGrant
from portal.proxies.scopes import NOTICES_ANSWER

SESSION_ACTING = "acting_for"


@dataclass(frozen=True)
class Acting:
    grant: ProxyGrant
    principal: Resident
    proxy: Resident

    def allows(self, scope: str) -> bool:
        return scope in self.grant.scopes


@dataclass(frozen=True)
class Subject:
    owner: Resident
    actor: Actor
    acting: Acting | None


def own_resident(request: HttpRequest) -> Resident:
    resident = getattr(request.user, "resident", None) if request.user.is_authenticated else None
    if resident is None:
        raise Http404
    return resident


def usable_grant(*, proxy: Resident, grant_public_id: str) -> ProxyGrant | None:
    """The proxy's grant by its public id, if it can be acted under now, with its principal.

    Checked on every request of an acting session, so it is one fixed query (portal/core/rows.py): the ORM
    spent most of the check's CPU building the same query on every request (bench/README.md, issue 7). The
    principal's encrypted My Number is left deferred, so a page that never shows it does not decrypt it.
    """
    try:
        public_id = uuid.UUID(str(grant_public_id))
    except ValueError:
        return None  # not an id the portal put in the session: there is no such grant
    row = _USABLE_GRANT_READ.one(
        [
            _GRANT.model._meta.get_field("public_id").get_db_prep_value(public_id, connection),
            proxy.pk,
            GrantState.ACTIVE,
            False,
            _GRANT.model._meta.get_field("ends_on").get_db_prep_value(timezone.localdate(), connection),
        ]
    )
    if row is None:
        return None
    grant, principal = row
    related_cache(grant, "principal", principal)  # as select_related("principal") leaves it
    return grant


_GRANT = Columns(ProxyGrant, "g")
_PRINCIPAL = Columns(
    Resident, "p", tuple(f.name for f in Resident._meta.concrete_fields if f.name != "my_number")
)
_USABLE_GRANT_READ = FixedRead(
    (_GRANT, _PRINCIPAL),
    lambda: (
        f"FROM {_GRANT.table} JOIN {_PRINCIPAL.table} ON p.id = g.principal_id "
        "WHERE g.public_id = %s AND g.proxy_id = %s AND g.state = %s AND g.review_required = %s "
        "AND g.ends_on >= %s LIMIT 1"
    ),
)


def acting_for(request: HttpRequest) -> Acting | None:
    """The grant this session acts under, checked now; a grant that ended drops out of the session."""
    if hasattr(request, "_acting"):
        return request._acting
    acting = None
    grant_id = request.session.get(SESSION_ACTING) if hasattr(request, "session") else None
    resident = getattr(request.user, "resident", None) if request.user.is_authenticated else None
    if grant_id and resident is not None:
        grant = usable_grant(proxy=resident, grant_public_id=grant_id)
        if grant is None:
            request.session.pop(SESSION_ACTING, None)
        else:
            acting = Acting(grant=grant, principal=grant.principal, proxy=resident)
    request._acting = acting
    return acting


# What a proxy is told when a scope they lack is needed; reading anything else is the general case.
OUT_OF_SCOPE_MESSAGES = {
    NOTICES_ANSWER: (
        "代理人として、この方のお知らせに回答することは認められていません。"
        "回答するには、ご本人から「お知らせに回答する」の範囲を受けてください。",
        "As a proxy you have not been granted answering this person's notices. To answer, ask them "
        "for the scope “answer my notices”.",
    ),
}


def out_of_scope(scope: str = "") -> PortalError:
    ja, en = OUT_OF_SCOPE_MESSAGES.get(
        scope,
        (
            "代理人として、この情報を見ることは認められていません。",
            "As a proxy you have not been granted access to this.",
        ),
    )
    return PortalError("out_of_scope", ja, en, 403)


def subject(request: HttpRequest, scope: str) -> Subject:
    """The owner and actor for a page needing `scope`; refuses a proxy without it (403)."""
    acting = acting_for(request)
    if acting is None:
        resident = own_resident(request)
        return Subject(owner=resident, actor=Actor.for_resident(resident), acting=None)
    if not acting.allows(scope):
        raise out_of_scope(scope)
    return Subject(owner=acting.principal, actor=Actor.for_proxy(acting.proxy), acting=acting)


ADDRESS_KEYS = frozenset({"address", "住所"})


def without_addresses(data: object) -> object:
    """The data with every address removed, at any depth: what a proxy of a protected resident sees."""
    if isinstance(data, dict):
        return {k: without_addresses(v) for k, v in data.items() if k not in ADDRESS_KEYS}
    if isinstance(data, list):
        return [without_addresses(item) for item in data]
    return data


def shown_to(subject: Subject, data: object) -> object:
    """What of the owner's data this viewer may see: a protected address never reaches a proxy."""
    if subject.acting is not None and subject.owner.address_protected:
        return without_addresses(data)
    return data
