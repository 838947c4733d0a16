"""Inviting, accepting, confirming and ending a voluntary proxy: the rules in portal.proxies.services."""

import datetime as dt

import pytest
from django.utils import timezone

from portal.core.errors import PortalError
from portal.proxies import services
from portal.proxies.models import EndedBy, GrantState, ProxyGrant
from tests.proxies.conftest import appoint_proof, grant_between

pytestmark = pytest.mark.django_db
IN_A_MONTH = dt.timedelta(days=30)


def _invite(principal, scopes=("medical",), ends_on=None):
    return services.invitation_create(
        principal=principal, scopes=list(scopes), ends_on=ends_on or timezone.localdate() + IN_A_MONTH
    )


def test_invitation_code_is_stored_only_as_a_hash_and_works_once(kazuo, yuki, stranger):
    grant, code = _invite(kazuo)
    assert grant.invitation_hash and code not in grant.invitation_hash
    services.invitation_accept(proxy=yuki, code=code.lower())
    grant.refresh_from_db()
    assert grant.state == GrantState.ACCEPTED and grant.proxy == yuki and grant.invitation_hash is None
    with pytest.raises(PortalError) as reused:
        services.invitation_accept(proxy=stranger, code=code)
    assert reused.value.code == "invitation_invalid"


def test_accepted_grant_is_active_only_after_the_principals_signature(kazuo, yuki):
    grant, code = _invite(kazuo)
    services.invitation_accept(proxy=yuki, code=code)
    grant.refresh_from_db()
    with pytest.raises(PortalError):
        services.grant_confirm(principal=yuki, grant=grant, proof=appoint_proof())  # not hers to sign
    confirmed = services.grant_confirm(principal=kazuo, grant=grant, proof=appoint_proof())
    assert confirmed.state == GrantState.ACTIVE and confirmed.act_digest == "a" * 64


def test_expired_invitation_is_refused(kazuo, yuki):
    grant, code = _invite(kazuo)
    ProxyGrant.objects.filter(pk=grant.pk).update(
        invitation_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    with pytest.raises(PortalError) as expired:
        services.invitation_accept(proxy=yuki, code=code)
    assert expired.value.code == "invitation_expired" and expired.value.message_en


def test_self_invitation_is_refused(kazuo):
    _, code = _invite(kazuo)
    with pytest.raises(PortalError) as refused:
        services.invitation_accept(proxy=kazuo, code=code)
    assert refused.value.code == "self_invitation"


def test_circular_proxies_are_refused(kazuo, yuki):
    grant_between(kazuo, yuki, ["medical"])
    _, code = _invite(yuki)
    with pytest.raises(PortalError) as refused:
        services.invitation_accept(proxy=kazuo, code=code)
    assert refused.value.code == "circular_proxy"


@pytest.mark.parametrize(
    ("scopes", "ends_in", "code"),
    [
        ([], 30, "scopes_required"),
        (["myinfo:nonsense"], 30, "unknown_scope"),
        (["account_change"], 30, "unknown_scope"),  # changing the account is never a proxy's
        (["medical"], 0, "end_in_past"),
        (["medical"], 400, "end_too_far"),
    ],
)
def test_bad_invitations_are_refused_and_nothing_saved(kazuo, scopes, ends_in, code):
    with pytest.raises(PortalError) as refused:
        _invite(kazuo, scopes, timezone.localdate() + dt.timedelta(days=ends_in))
    assert refused.value.code == code and refused.value.message_ja and refused.value.message_en
    assert not ProxyGrant.objects.exists()


def test_answering_notices_brings_reading_them_into_what_the_principal_signs(kazuo):
    grant, _ = _invite(kazuo, ["notices_answer", "medical"])
    assert grant.scopes == ["medical", "notices_answer", "notices_read"]
    assert services.appoint_payload(grant)["scopes"] == ["medical", "notices_answer", "notices_read"]


def test_either_side_ends_it_and_end_all_ends_every_proxy(kazuo, yuki, stranger):
    first = grant_between(kazuo, yuki, ["medical"])
    ended = services.grant_end(resident=yuki, grant_public_id=first.public_id)
    assert ended.state == GrantState.ENDED and ended.ended_by == EndedBy.PROXY
    grant_between(kazuo, yuki, ["history"])
    grant_between(kazuo, stranger, ["history"])
    assert services.grants_end_all(principal=kazuo) == 2
    assert not ProxyGrant.objects.exclude(state=GrantState.ENDED).exists()


def test_a_stranger_cannot_end_someone_elses_grant(kazuo, yuki, stranger):
    grant = grant_between(kazuo, yuki, ["medical"])
    with pytest.raises(PortalError) as refused:
        services.grant_end(resident=stranger, grant_public_id=grant.public_id)
    assert refused.value.status == 404
    grant.refresh_from_db()
    assert grant.state == GrantState.ACTIVE


def test_staff_end_every_proxy_of_a_principal_and_opening_a_grant_is_recorded(kazuo, yuki, stranger, client):
    from django.contrib.auth import get_user_model

    from portal.history.models import ReleaseRecord

    grant = grant_between(kazuo, yuki, ["medical"])
    grant_between(kazuo, stranger, ["history"])
    staff = get_user_model().objects.create(username="support", is_staff=True, is_superuser=True)
    client.force_login(staff)
    assert client.get(f"/staff/admin/proxies/proxygrant/{grant.pk}/change/").status_code == 200
    assert ReleaseRecord.objects.filter(owner=kazuo, actor_type="staff").count() == 1
    response = client.post(
        "/staff/admin/proxies/proxygrant/",
        {"action": "end_every_proxy_of_these_principals", "_selected_action": [grant.pk]},
    )
    assert response.status_code == 302
    assert set(ProxyGrant.objects.values_list("ended_by", flat=True)) == {EndedBy.STAFF}
