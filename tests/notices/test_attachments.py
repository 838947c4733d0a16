"""Attachments: the resident downloads the PDF as sent; each download is recorded in the history first."""

import pytest

from notices.attachments import attachment_decrypt
from notices.models import Notice
from portal.core.crypto import DecryptionError
from portal.history.models import Channel, ReleaseRecord
from tests.notices.conftest import PDF, logged_in, notice_body, pdf_attachment, to_resident

pytestmark = pytest.mark.django_db


@pytest.fixture
def notice(api, resident) -> Notice:
    response = api.post_notice(notice_body(to_resident(resident), attachments=[pdf_attachment()]))
    return Notice.objects.get(public_id=response.json()["id"])


def test_download_is_recorded_then_sent(notice, resident):
    attachment = notice.attachments.get()
    client = logged_in(resident)
    assert "現況届の書き方.pdf" in client.get(f"/notices/{notice.public_id}/").content.decode()
    response = client.get(f"/notices/{notice.public_id}/attachments/{attachment.public_id}/")
    assert response.status_code == 200
    assert response.content == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment; filename*=UTF-8''")
    assert response["X-Content-Type-Options"] == "nosniff"
    record = ReleaseRecord.objects.get(owner=resident, channel=Channel.EXPORT)
    assert record.category == "notices" and record.items == ["現況届の書き方.pdf"]


def test_each_download_is_recorded(notice, resident):
    attachment = notice.attachments.get()
    client = logged_in(resident)
    for _ in range(2):
        client.get(f"/notices/{notice.public_id}/attachments/{attachment.public_id}/")
    assert ReleaseRecord.objects.filter(owner=resident, channel=Channel.EXPORT).count() == 2


def test_another_residents_download_is_not_found_and_not_recorded(notice, other_resident):
    attachment = notice.attachments.get()
    response = logged_in(other_resident).get(
        f"/notices/{notice.public_id}/attachments/{attachment.public_id}/"
    )
    assert response.status_code == 404
    assert not ReleaseRecord.objects.filter(channel=Channel.EXPORT).exists()


def test_unknown_attachment_of_a_visible_notice_is_not_found(notice, resident):
    response = logged_in(resident).get(f"/notices/{notice.public_id}/attachments/{notice.public_id}/")
    assert response.status_code == 404


def test_ciphertext_is_bound_to_its_attachment(notice):
    attachment = notice.attachments.get()
    with pytest.raises(DecryptionError):
        attachment_decrypt(attachment.ciphertext, key_id=attachment.key_id, public_id=notice.public_id)
