"""/account/ through the Django test client: the form, the signature step-up, the desk-terminal case."""

import re

import pytest

from portal.account import services
from portal.account.models import AccountApplication, ApplicationState, BankResult, PublicFundAccount
from portal.history.models import ReleaseRecord
from portal.identity.models import Resident
from tests.helpers import PASSWORD, card_answer, login_with_card

pytestmark = pytest.mark.django_db

FORM = {
    "bank": "0009",
    "branch": "001",
    "account_type": "ordinary",
    "number": "2345678",
    "holder_kana": "サトウ ミサキ",
}


@pytest.fixture
def misaki(client, trusted_jpki) -> Resident:
    login_with_card(client, trusted_jpki, "sato-misaki")
    return Resident.objects.get(name="佐藤 美咲")


def _to_signature(client, form=FORM) -> str:
    response = client.post("/account/register/", form)
    assert response.status_code == 302, response.content.decode()
    return re.fullmatch(r"/stepup/([0-9a-f-]+)/", response["Location"]).group(1)


def test_register_signs_then_waits_for_the_bank_then_shows_verified(client, trusted_jpki, misaki):
    assert 'id="no-account"' in client.get("/account/").content.decode()
    request_id = _to_signature(client)
    page = client.get(f"/stepup/{request_id}/").content.decode()
    assert "三井住友" in page and "2345678" in page and "サトウ ミサキ" in page
    assert not AccountApplication.objects.exists()  # nothing kept before the signature

    assert card_answer(client, trusted_jpki, request_id, "sato-misaki", PASSWORD).status_code == 200
    done = client.post(f"/account/register/?stepup={request_id}")
    assert done.status_code == 302 and done["Location"] == "/account/"
    application = AccountApplication.objects.get()
    assert (
        application.state == ApplicationState.CHECKING and str(application.signing_request_id) == request_id
    )
    checking = client.get("/account/").content.decode()
    assert 'data-state="checking"' in checking and "●●●●678" in checking
    assert client.get("/account/status.json").json() == {
        "state": "checking",
        "label": "金融機関に確認中",
        "done": False,
    }

    services.account_bank_answer(application_id=application.pk, result=BankResult.MATCH)
    shown = client.get("/account/").content.decode()
    assert 'data-state="verified"' in shown and "●●●●678" in shown and "2345678" not in shown
    assert ReleaseRecord.objects.filter(
        owner=misaki, category="public_fund_account", actor_type="resident"
    ).exists()


def test_family_members_account_is_refused_with_the_reason_and_nothing_saved(client, misaki):
    response = client.post("/account/register/", {**FORM, "holder_kana": "サトウ ハルト"})
    assert response.status_code == 422
    page = response.content.decode()
    assert "ご本人名義の口座だけを登録できます" in page and 'data-code="holder_not_resident"' in page
    assert not AccountApplication.objects.exists() and not PublicFundAccount.objects.exists()


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"bank": "9999"}, "bank"),
        ({"branch": "999"}, "branch"),
        ({"number": "12a4567"}, "number"),
        ({"holder_kana": "Sato Misaki"}, "holder"),
        # Names that stand for more than one bank or branch: 三井住友 and 三井住友信託; 東京中央, 東大阪, …
        ({"bank": "三井"}, "bank_ambiguous"),
        ({"branch": "東"}, "branch_ambiguous"),
    ],
)
def test_bad_form_input_shows_a_message_in_both_languages(client, misaki, changes, code):
    response = client.post("/account/register/", {**FORM, **changes})
    assert response.status_code == 422
    page = response.content.decode()
    assert 'class="notice notice--error"' in page and code in re.search(r'data-code="([^"]+)"', page).group(1)
    assert 'lang="en"' in page
    assert not AccountApplication.objects.exists()


def test_bank_by_name_without_javascript(client, misaki):
    response = client.post("/account/register/", {**FORM, "bank": "三井住友"})
    assert response.status_code == 302 and response["Location"].startswith("/stepup/")


def test_branch_by_name_without_javascript(client, misaki):
    response = client.post("/account/register/", {**FORM, "bank": "三井住友", "branch": "神保町"})
    assert response.status_code == 302 and response["Location"].startswith("/stepup/")


def test_another_persons_card_refuses_the_act_and_ends_the_session(client, trusted_jpki, misaki):
    request_id = _to_signature(client)
    # The desk-terminal case: someone else's card is presented for her session.
    assert card_answer(client, trusted_jpki, request_id, "yamada-hanako", PASSWORD).status_code == 403
    response = client.post(f"/account/register/?stepup={request_id}")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not AccountApplication.objects.exists()
    assert client.get("/account/").status_code == 302  # logged out


def test_unsigned_return_is_refused(client, misaki):
    request_id = _to_signature(client)
    response = client.post(f"/account/register/?stepup={request_id}")
    assert response.status_code == 409
    assert not AccountApplication.objects.exists()


def test_delete_is_signed(client, trusted_jpki, misaki):
    details = services.account_details_check(
        resident=misaki,
        bank_code="0009",
        branch_code="001",
        account_type="ordinary",
        number="2345678",
        holder_kana="サトウ ミサキ",
    )
    from tests.account.conftest import proof_for

    application = services.account_apply(resident=misaki, details=details, proof=proof_for())
    services.account_bank_answer(application_id=application.pk, result=BankResult.MATCH)
    assert "●●●●678" in client.get("/account/delete/").content.decode()
    response = client.post("/account/delete/")
    request_id = re.fullmatch(r"/stepup/([0-9a-f-]+)/", response["Location"]).group(1)
    assert card_answer(client, trusted_jpki, request_id, "sato-misaki", PASSWORD).status_code == 200
    done = client.post(f"/account/delete/?stepup={request_id}")
    assert done.status_code == 302 and not PublicFundAccount.objects.exists()


def test_bank_and_branch_search(client, misaki):
    banks = client.get("/account/banks/", {"q": "みずほ"}).json()["results"]
    assert banks[0]["code"] == "0001"
    branches = client.get("/account/banks/0001/branches/", {"q": "001"}).json()["results"]
    assert branches[0]["code"] == "001"
    assert client.get("/account/banks/9999/branches/", {"q": "1"}).status_code == 404


def test_pages_need_a_login(client, db):
    for path in ("/account/", "/account/register/", "/account/delete/", "/account/banks/?q=a"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_page_drawn_while_the_bank_answer_commits_never_says_no_account_and_stops(
    client, misaki, monkeypatch
):
    from portal.account import selectors
    from tests.account.conftest import proof_for

    details = services.account_details_check(
        resident=misaki,
        bank_code="0009",
        branch_code="001",
        account_type="ordinary",
        number="2345678",
        holder_kana="サトウ ミサキ",
    )
    application = services.account_apply(resident=misaki, details=details, proof=proof_for())
    answered = []

    def commit_after_first_read(read):
        def wrapper(**kwargs):
            result = read(**kwargs)
            if not answered:  # the worker's commit lands between the page's two reads
                answered.append(True)
                services.account_bank_answer(application_id=application.pk, result=BankResult.MATCH)
            return result

        return wrapper

    monkeypatch.setattr(selectors, "account_get", commit_after_first_read(selectors.account_get))
    monkeypatch.setattr(
        selectors, "application_latest", commit_after_first_read(selectors.application_latest)
    )
    page = client.get("/account/").content.decode()
    # Either still checking (the page polls and reloads) or the verified account: never neither.
    assert 'data-state="checking"' in page or 'data-state="verified"' in page
