"""Adult guardians: the certificate is checked and encrypted, staff link the ward and approve, the guardian
then acts with full scope, and the grant ends when the registration is withdrawn."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.history.models import ReleaseRecord
from portal.proxies.access import usable_grant
from portal.proxies.guardians import certificate_of
from portal.proxies.models import GrantKind, GrantState, GuardianApplication, GuardianState
from portal.proxies.scopes import SCOPE_CODES
from tests.proxies.conftest import logged_in

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.7\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


def _form(**changes):
    form = {
        "ward_name": "田中 和夫",
        "ward_birth_date": "1942-03-15",
        "registry_number": "第2026-1234号",
        "certificate": SimpleUploadedFile("cert.pdf", PDF, content_type="application/pdf"),
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


@pytest.fixture
def staff_client(client):
    staff = get_user_model().objects.create(username="guardian-desk", is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client


def test_a_guardian_acts_only_after_staff_approve_and_stops_when_withdrawn(kazuo, yuki, staff_client):
    guardian = logged_in(yuki)
    response = guardian.post("/proxies/guardian/", _form())
    assert response.status_code == 302
    application = GuardianApplication.objects.get()
    assert application.state == GuardianState.SUBMITTED and bytes(application.certificate)[:5] != b"%PDF-"
    assert certificate_of(application) == PDF  # encrypted at rest, readable by staff

    url = "/staff/admin/proxies/guardianapplication/"
    # Approval needs the ward linked first.
    staff_client.post(url, {"action": "approve", "_selected_action": [application.pk]})
    application.refresh_from_db()
    assert application.state == GuardianState.SUBMITTED and application.grant is None

    assert staff_client.get(f"{url}{application.pk}/change/certificate/").content == PDF
    assert ReleaseRecord.objects.filter(owner=yuki, actor_type="staff", purpose="guardian_review").exists()
    GuardianApplication.objects.filter(pk=application.pk).update(ward=kazuo)
    staff_client.post(url, {"action": "approve", "_selected_action": [application.pk]})
    application.refresh_from_db()
    grant = application.grant
    assert application.state == GuardianState.APPROVED and grant.kind == GrantKind.GUARDIAN
    assert set(grant.scopes) == SCOPE_CODES and grant.principal == kazuo and grant.proxy == yuki
    assert usable_grant(proxy=yuki, grant_public_id=str(grant.public_id)) is not None

    staff_client.post(url, {"action": "withdraw", "_selected_action": [application.pk]})
    grant.refresh_from_db()
    assert grant.state == GrantState.ENDED and grant.ended_by == "staff"
    assert usable_grant(proxy=yuki, grant_public_id=str(grant.public_id)) is None


@pytest.mark.parametrize(
    ("changes", "code", "status"),
    [
        ({"certificate": None}, "certificate_required", 422),
        (
            {
                "certificate": SimpleUploadedFile(
                    "cert.pdf", b"<html>not a pdf</html>", content_type="application/pdf"
                )
            },
            "certificate_not_pdf",
            422,
        ),
        ({"ward_birth_date": "someday"}, "ward_birth_date", 422),
        ({"ward_birth_date": "2999-01-01"}, "ward_birth_date", 422),
        ({"ward_name": "   "}, "ward_name_required", 422),
        ({"registry_number": "<script>"}, "registry_number", 422),
        ({"ward_name": "田中\x00和夫"}, "invalid_request", 400),  # no database text holds a NUL: was a 500
    ],
)
def test_bad_applications_are_refused_clearly_and_nothing_saved(yuki, changes, code, status):
    response = logged_in(yuki).post("/proxies/guardian/", _form(**changes))
    assert response.status_code == status and f'data-code="{code}"' in response.content.decode()
    assert not GuardianApplication.objects.exists()


def test_an_oversized_certificate_is_refused(yuki, settings, monkeypatch):
    monkeypatch.setattr("portal.proxies.guardians.CERTIFICATE_MAX_BYTES", 100)
    big = SimpleUploadedFile("cert.pdf", PDF + b" " * 200, content_type="application/pdf")
    response = logged_in(yuki).post("/proxies/guardian/", _form(certificate=big))
    assert response.status_code == 413
    assert not GuardianApplication.objects.exists()
