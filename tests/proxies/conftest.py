"""A principal, a proxy and an active grant between them, made through the services."""

import datetime as dt
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from portal.identity.services import StepUpProof
from portal.proxies import services
from tests.factories import ResidentFactory


def logged_in(resident) -> Client:
    client = Client()
    client.force_login(resident.user, backend="portal.identity.backends.PortalBackend")
    return client


def appoint_proof() -> StepUpProof:
    return StepUpProof(
        request_id=str(uuid.uuid4()),
        act=services.APPOINT_ACT,
        act_digest="a" * 64,
        signed_at=timezone.now(),
        signer_serial_hash="p" * 64,
    )


def grant_between(principal, proxy, scopes, *, days=30):
    grant, code = services.invitation_create(
        principal=principal, scopes=scopes, ends_on=timezone.localdate() + dt.timedelta(days=days)
    )
    services.invitation_accept(proxy=proxy, code=code)
    grant.refresh_from_db()
    return services.grant_confirm(principal=principal, grant=grant, proof=appoint_proof())


@pytest.fixture
def kazuo(db):
    return ResidentFactory(name="田中 和夫", name_kana="タナカ カズオ")


@pytest.fixture
def yuki(db):
    return ResidentFactory(name="田中 由紀", name_kana="タナカ ユキ")


@pytest.fixture
def stranger(db):
    return ResidentFactory(name="山田 花子", name_kana="ヤマダ ハナコ")


# Fake agencies behind the portal's real agency client (the medical insurer's registrations and fetches).
from tests.myinfo.conftest import agencies, client_keys, contracts  # noqa: E402

__all__ = ["agencies", "client_keys", "contracts"]
