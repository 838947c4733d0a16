"""Every way an application can be wrong: each is refused with a message in Japanese and English at its
field, every problem of a submission at once, and nothing at all is stored."""

import json

import pytest

from portal.firms.models import Firm, FirmEvent, FirmPurpose
from portal.firms.validation import FirmInputInvalid, PurposeInput
from tests.firms.conftest import (
    apply,
    jwks_text,
    private_ec_jwk,
    public_ec_jwk,
    public_rsa_jwk,
)

pytestmark = pytest.mark.django_db


def refused(**overrides) -> FirmInputInvalid:
    with pytest.raises(FirmInputInvalid) as raised:
        apply(**overrides)
    assert (Firm.objects.count(), FirmPurpose.objects.count(), FirmEvent.objects.count()) == (0, 0, 0)
    for problem in raised.value.problems:
        assert problem.message_ja and problem.message_en
    return raised.value


def only_field(invalid: FirmInputInvalid) -> str:
    fields = {p.field for p in invalid.problems}
    assert len(fields) == 1, invalid.problems
    return fields.pop()


def purpose(**fields) -> PurposeInput:
    base = {
        "code": "loan-screening",
        "description_ja": "ローンの審査",
        "description_en": "Loan screening",
        "scopes": ("income_tax",),
        "access_kind": "one_time",
        "interval_days": "",
        "access_days": "30",
    }
    return PurposeInput(**{**base, **fields})


def test_every_problem_of_a_submission_is_reported_at_once():
    invalid = refused(legal_name="", corporate_number="1234567890123", contact_email="x", retention_days="0")
    assert {p.field for p in invalid.problems} == {
        "legal_name",
        "corporate_number",
        "contact_email",
        "retention_days",
    }
    assert invalid.status == 422 and invalid.as_json()["error"] == "firm_input_invalid"


# --- the firm -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("legal_name", ""),
        ("legal_name", "あ" * 201),
        ("legal_name", "銀行\x00"),
        ("legal_name_en", "A" * 201),
        ("address", ""),
        ("contact_name", ""),
        ("contact_name", "名\n前"),
        ("contact_email", ""),
        ("contact_email", "not-an-address"),
        ("contact_phone", "12"),
        ("contact_phone", "03-1234-ABCD"),
        ("retention_days", ""),
        ("retention_days", "0"),
        ("retention_days", "3651"),
        ("retention_days", "ten"),
        ("retention_days", "-5"),
    ],
)
def test_plain_fields(field, value):
    assert only_field(refused(**{field: value})) == field


@pytest.mark.parametrize("number", ["", "4011001098994", "401100109899", "40110010989931", "4O11001098993"])
def test_corporate_numbers(number):
    invalid = refused(corporate_number=number)
    assert only_field(invalid) == "corporate_number"


def test_a_corporate_number_already_under_review_or_approved_is_refused():
    apply()
    with pytest.raises(FirmInputInvalid) as raised:
        apply()
    assert only_field(raised.value) == "corporate_number"
    assert "すでに審査中か承認済み" in raised.value.problems[0].message_ja
    assert Firm.objects.count() == 1


def test_a_rejected_firm_may_apply_again(staff):
    from portal.firms import services

    firm, _ = apply()
    services.firm_reject(firm_id=firm.pk, staff=staff, reason="目的が不明確")
    again, _ = apply()
    assert again.pk != firm.pk


# --- URLs ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "http://bank.example/callback",  # http off loopback
        "https://bank.example/callback#top",  # a fragment
        "https://*.bank.example/callback",  # a wildcard host
        "https://bank.example/*",  # a wildcard path
        "https://user:pass@bank.example/callback",  # credentials
        "https://bank.example:99999/callback",  # no such port
        "bank-app://callback",  # a custom scheme
        "javascript:alert(1)",
        "/callback",  # relative
        "https://bank.example/" + "a" * 400,
        "http://127.0.0.2/callback",  # only the loopback names of RFC 8252
        "http://localhost.bank.example/callback",
    ],
)
def test_redirect_uris_refused(uri):
    invalid = refused(redirect_uris=f"https://bank.example/ok\n{uri}")
    assert only_field(invalid) == "redirect_uris"


@pytest.mark.parametrize(
    "uri",
    [
        "https://bank.example/callback?from=portal",
        "http://127.0.0.1:8003/callback",
        "http://[::1]:8003/callback",
        "http://localhost/callback",
    ],
)
def test_redirect_uris_accepted(uri):
    firm, _ = apply(redirect_uris=uri)
    assert firm.redirect_uris == [uri]


def test_redirect_uris_one_per_line_duplicates_dropped_at_most_ten():
    firm, _ = apply(redirect_uris="https://a.example/cb\n\n https://a.example/cb \nhttps://b.example/cb")
    assert firm.redirect_uris == ["https://a.example/cb", "https://b.example/cb"]
    Firm.objects.all().delete()
    many = "\n".join(f"https://bank.example/cb{i}" for i in range(11))
    assert only_field(refused(redirect_uris=many)) == "redirect_uris"
    assert only_field(refused(redirect_uris=" \n ")) == "redirect_uris"


@pytest.mark.parametrize("url", ["", "http://bank.example/privacy", "https://", "ftp://bank.example/p"])
def test_privacy_policy_must_be_https(url):
    assert only_field(refused(privacy_policy_url=url)) == "privacy_policy_url"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://bank.example/events",
        "https://bank.example/events#x",
        "https://u@bank.example/e",
        "gopher://x",
    ],
)
def test_callback_urls_refused(url):
    assert only_field(refused(callback_url=url)) == "callback_url"


def test_a_loopback_callback_is_for_development_only(settings):
    firm, _ = apply(callback_url="http://127.0.0.1:8003/consent-events")
    assert firm.callback_url == "http://127.0.0.1:8003/consent-events"
    Firm.objects.all().delete()
    settings.PRODUCTION = True
    for url in (
        "http://127.0.0.1:8003/consent-events",
        "https://127.0.0.1/consent-events",
        "https://10.0.0.5/consent-events",
        "https://[fd00::1]/consent-events",
        "https://169.254.169.254/latest",
        "https://localhost/consent-events",
    ):
        assert only_field(refused(callback_url=url)) == "callback_url", url
    firm, _ = apply(callback_url="https://bank.example/consent-events")
    assert firm.callback_url == "https://bank.example/consent-events"


# --- JWKS ---------------------------------------------------------------------------------------------------


def test_a_private_key_is_refused_clearly_and_marked_not_to_be_shown_again():
    private = private_ec_jwk("b")
    invalid = refused(jwks=jwks_text(public_ec_jwk("a"), private))
    assert only_field(invalid) == "jwks"
    (problem,) = invalid.problems
    assert "2番目の鍵に秘密鍵" in problem.message_ja and "private key material" in problem.message_en
    assert "jwks" in invalid.withheld
    assert private["d"] not in json.dumps(invalid.as_json(), ensure_ascii=False)


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "k"])
def test_any_private_member_is_refused(member):
    key = {**public_rsa_jwk(), member: "AQAB"}
    invalid = refused(jwks=jwks_text(key))
    assert "jwks" in invalid.withheld


def _bad_point() -> dict:
    key = public_ec_jwk()
    return {**key, "x": key["y"]}


@pytest.mark.parametrize(
    ("jwks", "words"),
    [
        ("", "JWKS"),
        ("{not json", "JSON"),
        ("[1, 2]", '"keys"'),
        ('{"keys": []}', '"keys"'),
        ('{"keys": "abc"}', '"keys"'),
        (jwks_text(*[public_ec_jwk(f"k{i}") for i in range(11)]), "10"),
        (jwks_text("a-string"), "JSON"),
        (jwks_text({"kty": "oct", "kid": "s", "k": "c2VjcmV0"}), "秘密鍵"),
        (
            jwks_text(
                {
                    "kty": "OKP",
                    "kid": "e",
                    "crv": "Ed25519",
                    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                }
            ),
            "kty",
        ),
        (jwks_text({k: v for k, v in public_ec_jwk().items() if k != "kid"}), "kid"),
        (jwks_text({**public_ec_jwk(), "kid": ""}), "kid"),
        (jwks_text({**public_ec_jwk(), "kid": "k" * 65}), "kid"),
        (jwks_text(public_ec_jwk("same"), public_ec_jwk("same")), "kid"),
        (jwks_text({**public_ec_jwk(), "crv": "P-384"}), "P-256"),
        (jwks_text(public_rsa_jwk(bits=1024)), "2048"),
        (jwks_text(_bad_point()), "読み取れません"),
        (jwks_text({**public_ec_jwk(), "x": 5}), "読み取れません"),
        (jwks_text({**public_ec_jwk(), "alg": "RS256"}), "alg"),
        (jwks_text({**public_rsa_jwk(), "alg": "ES256"}), "alg"),
        (jwks_text({**public_ec_jwk(), "use": "enc"}), "sig"),
        (jwks_text({**public_ec_jwk(), "key_ops": ["sign"]}), "sig"),
        (jwks_text({**public_ec_jwk(), "key_ops": {"a": 1}}), "sig"),
        ("x" * 20_001, "20000"),
    ],
)
def test_unusable_jwks(jwks, words):
    invalid = refused(jwks=jwks)
    assert only_field(invalid) == "jwks"
    assert any(words in p.message_ja for p in invalid.problems), invalid.problems


def test_the_stored_jwks_holds_the_public_members_only():
    ec = {**public_ec_jwk("ec-1"), "alg": "ES256", "x5t": "ignored", "ext": True}
    rsa = {**public_rsa_jwk("rsa-1"), "alg": "PS256"}
    firm, _ = apply(jwks=jwks_text(ec, rsa))
    stored_ec, stored_rsa = firm.jwks["keys"]
    assert set(stored_ec) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert set(stored_rsa) == {"kty", "n", "e", "kid", "use", "alg"}
    assert stored_ec["x"] == ec["x"] and stored_rsa["n"] == rsa["n"] and stored_ec["use"] == "sig"


# --- purposes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"code": ""}, "purposes-0-code"),
        ({"code": "Loan Screening"}, "purposes-0-code"),
        ({"code": "-loan"}, "purposes-0-code"),
        ({"code": "a" * 51}, "purposes-0-code"),
        ({"description_ja": ""}, "purposes-0-description_ja"),
        ({"description_en": "x" * 401}, "purposes-0-description_en"),
        ({"scopes": ()}, "purposes-0-scopes"),
        ({"scopes": ("openid",)}, "purposes-0-scopes"),
        ({"scopes": ("income_tax", "my_number")}, "purposes-0-scopes"),
        ({"access_kind": ""}, "purposes-0-access_kind"),
        ({"access_kind": "forever"}, "purposes-0-access_kind"),
        ({"access_days": ""}, "purposes-0-access_days"),
        ({"access_days": "0"}, "purposes-0-access_days"),
        ({"access_days": "366"}, "purposes-0-access_days"),
        ({"access_kind": "periodic", "interval_days": ""}, "purposes-0-interval_days"),
        ({"access_kind": "periodic", "interval_days": "0"}, "purposes-0-interval_days"),
        ({"access_kind": "periodic", "interval_days": "31", "access_days": "30"}, "purposes-0-interval_days"),
    ],
)
def test_purpose_fields(fields, field):
    assert only_field(refused(purposes=(purpose(**fields),))) == field


def test_periodic_medical_access_is_at_most_90_days():
    medical = purpose(scopes=("medical_drugs",), access_kind="periodic", interval_days="30", access_days="91")
    invalid = refused(purposes=(medical,))
    assert only_field(invalid) == "purposes-0-access_days"
    assert "最長90日" in invalid.problems[0].message_ja and "90 days" in invalid.problems[0].message_en

    firm, _ = apply(
        purposes=(
            purpose(scopes=("medical_drugs",), access_kind="periodic", interval_days="30", access_days="90"),
        )
    )
    assert firm.purposes.get().access_days == 90


def test_one_time_medical_access_and_periodic_other_data_may_last_longer():
    one_time = purpose(code="checkup", scopes=("medical_checkups",), access_days="365")
    periodic = purpose(
        code="income", scopes=("income_tax",), access_kind="periodic", interval_days="30", access_days="365"
    )
    firm, _ = apply(purposes=(one_time, periodic))
    assert sorted(firm.purposes.values_list("code", "access_days")) == [("checkup", 365), ("income", 365)]


def test_purposes_are_required_blank_blocks_skipped_codes_unique():
    assert only_field(refused(purposes=(PurposeInput(), PurposeInput()))) == "purposes"
    assert only_field(refused(purposes=(purpose(), purpose()))) == "purposes"
    many = tuple(purpose(code=f"p{i}") for i in range(11))
    assert only_field(refused(purposes=many)) == "purposes"
    firm, _ = apply(purposes=(PurposeInput(), purpose(code="second")))
    assert list(firm.purposes.values_list("code", flat=True)) == ["second"]


def test_a_purpose_is_stored_with_openid_first_and_the_interval_only_when_periodic():
    firm, _ = apply(
        purposes=(
            purpose(code="once", scopes=("income_tax", "name", "openid"), interval_days="7"),
            purpose(
                code="often", scopes=("pension",), access_kind="periodic", interval_days="7", access_days="60"
            ),
        )
    )
    often, once = firm.purposes.order_by("code")
    assert once.scopes == ["openid", "name", "income_tax"] and once.interval_days is None
    assert often.scopes == ["openid", "pension"] and often.interval_days == 7 and often.access_days == 60
