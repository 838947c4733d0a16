"""A category whose fetch failed is shown as failed, with the reason, in Japanese and English: never
as data, and never as "not fetched yet" when the agency's answer was refused (issue 4, "Bad input")."""

import pytest
from django.utils.html import escape

from portal.history.models import ReleaseRecord
from portal.myinfo.models import CategoryEntry, EntryState, FetchError
from portal.myinfo.services import category_fetch
from tests.myinfo.conftest import HOUSEHOLD_DATA, answer_for, json_reply
from tests.proxies.conftest import logged_in

pytestmark = pytest.mark.django_db

SECRET = "H-SECRET-42"


@pytest.mark.parametrize(
    ("reply", "error", "ja", "en"),
    [
        (
            lambda r: json_reply(answer_for(r, "household", {**HOUSEHOLD_DATA, "member_count": SECRET})),
            FetchError.MALFORMED,
            "受け取った情報の形式が正しくありませんでした",
            "The information received was malformed",
        ),
        (
            lambda r: (200, "text/html", f"<html>{SECRET}</html>".encode()),
            FetchError.CONTENT_TYPE,
            "機関の応答の形式が正しくありませんでした",
            "The agency's answer was malformed",
        ),
        (
            lambda r: json_reply(
                answer_for(r, "household", {**HOUSEHOLD_DATA, "household_id": SECRET}, agency_code="A" * 26)
            ),
            FetchError.WRONG_SUBJECT,
            "受け取った情報が別の方への応答でした",
            "The information received was an answer about someone else",
        ),
        (
            lambda r: json_reply({"error": "unknown_code"}, status=404),
            FetchError.NOT_FOUND,
            "機関にご本人の記録がありませんでした",
            "The agency has no record of you",
        ),
    ],
    ids=["malformed", "content-type", "wrong-subject", "not-found"],
)
def test_a_refused_answer_is_shown_as_a_failure_with_its_reason_in_both_languages(
    agencies, resident, reply, error, ja, en
):
    client = logged_in(resident)  # logging in starts a refresh: this fetch is the household's
    agencies.replies["household"] = reply(resident)
    assert category_fetch(resident_id=resident.pk, category="household") == EntryState.FAILED
    records = ReleaseRecord.objects.filter(owner=resident).count()

    overview = client.get("/myinfo/").content.decode()
    detail = client.get("/myinfo/household/").content.decode()
    english = client.get("/myinfo/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    english_detail = client.get("/myinfo/household/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert 'data-category="household" data-state="failed"' in overview
    assert f'<span class="category__reason" id="reason-household">{ja}</span>' in overview
    assert f"この情報を取得できませんでした。 {ja}" in detail
    assert f'<span class="category__reason" id="reason-household">{escape(en)}' in english
    assert f"This information could not be fetched. {escape(en)}" in english_detail
    assert 'href="/myinfo/household/"' not in overview  # no link to data there is not
    for page in (overview, detail, english, english_detail):
        assert SECRET not in page
    assert ReleaseRecord.objects.filter(owner=resident).count() == records  # nothing was shown


def test_a_category_never_fetched_still_says_so(resident):
    client = logged_in(resident)
    CategoryEntry.objects.filter(resident=resident).delete()  # the refresh the login started, undone
    detail = client.get("/myinfo/pension/").content.decode()
    assert "この情報はまだ取得できていません。" in detail
    assert 'id="reason-pension"' not in client.get("/myinfo/").content.decode()
