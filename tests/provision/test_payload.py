"""Strict reading of the network's answer: one fault anywhere refuses the whole answer."""

from datetime import UTC, datetime, timedelta

import pytest

from portal.agencies.client import AgencyError, AgencyUnavailable
from portal.provision.payload import MAX_RECORDS, ProvisionPayloadError, parse_provision_records
from tests.provision.conftest import provision_answer, provision_record

CODE = "M3Q4X2VJ7RZK5PDW6YTB2HNC4A"
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def _parse(body):
    return parse_provision_records(body, expected_code=CODE, now=NOW)


def _refused(body) -> ProvisionPayloadError:
    with pytest.raises(ProvisionPayloadError) as caught:
        _parse(body)
    return caught.value


def test_valid_answer_is_read_whole():
    answer = _parse(provision_answer(CODE, [provision_record(1), provision_record(2, status="no_record")]))
    assert answer.agency_code == CODE
    assert [r.external_id for r in answer.records] == ["IPR-0000000000000001", "IPR-0000000000000002"]
    first = answer.records[0]
    assert first.occurred_at == datetime(2025, 8, 2, 1, 0, tzinfo=UTC)
    assert first.requester.id == "municipal-child" and first.provider.name_ja == "横浜市中区 税務課"
    assert answer.records[1].status == "no_record"


def test_empty_list_is_a_valid_answer():
    assert _parse(provision_answer(CODE, [])).records == ()


def test_refusals_are_final_agency_errors():
    error = _refused(provision_answer("SOMEONEELSE", []))
    assert isinstance(error, AgencyError) and not isinstance(error, AgencyUnavailable)


def test_answer_about_another_code_is_refused():
    error = _refused(provision_answer("A" * 26, [provision_record(1)]))
    assert error.code == "wrong_subject"


@pytest.mark.parametrize(
    "body",
    [
        [],
        "records",
        {"agency_code": CODE, "as_of": "2026-11-23T10:00:00+09:00"},
        {**provision_answer(CODE, []), "debug": True},
        {**provision_answer(CODE, []), "records": {"0": provision_record(1)}},
        {**provision_answer(CODE, []), "as_of": "yesterday"},
        {**provision_answer(CODE, []), "as_of": "2026-11-23T10:00:00"},  # no offset
        {**provision_answer(CODE, []), "agency_code": None},
    ],
)
def test_malformed_answer_is_refused(body):
    assert _refused(body).code in {"malformed", "wrong_subject"}


@pytest.mark.parametrize(
    "changes",
    [
        {"id": ""},
        {"id": "IPR 1"},
        {"id": "X" * 65},
        {"id": 17},
        {"occurred_at": "2025-08-01"},
        {"occurred_at": "2025-08-01T10:00:00"},
        {"occurred_at": 1754000000},
        {"occurred_at": "2027-01-01T10:00:00+09:00"},  # in the future
        {"requester": "municipal-child"},
        {"requester": {"id": "municipal-child", "name_ja": "子育て支援課"}},
        {"provider": {"id": "Municipal Tax", "name_ja": "税務課", "name_en": "Tax"}},
        {"provider": {"id": "municipal-tax", "name_ja": "税務課", "name_en": "Tax", "phone": "03"}},
        {"procedure_ja": ""},
        {"procedure_ja": "   "},
        {"procedure_en": None},
        {"legal_basis": ["別表第二"]},
        {"items_ja": "地方税\x00関係情報"},
        {"items_en": "local\ntax"},
        {"status": "pending"},
        {"status": True},
        {"extra": "field"},
    ],
)
def test_one_malformed_record_refuses_the_answer(changes):
    records = [provision_record(1), provision_record(2, **changes)]
    error = _refused(provision_answer(CODE, records))
    assert error.code == "malformed"
    assert error.where.startswith("records[1]")


def test_missing_record_field_is_refused():
    record = provision_record(1)
    del record["legal_basis"]
    assert _refused(provision_answer(CODE, [record])).where == "records[0]"


def test_repeated_id_is_refused():
    error = _refused(provision_answer(CODE, [provision_record(1), provision_record(1)]))
    assert error.where == "records[1].id"


def test_too_many_records_are_refused():
    records = [provision_record(n) for n in range(MAX_RECORDS + 1)]
    assert _refused(provision_answer(CODE, records)).code == "oversized"


@pytest.mark.parametrize(
    "changes",
    [
        {"procedure_ja": "事" * 301},
        {"items_en": "x" * 301},
        {"requester": {"id": "a", "name_ja": "名" * 201, "name_en": "n"}},
    ],
)
def test_oversized_text_is_refused(changes):
    assert _refused(provision_answer(CODE, [provision_record(1, **changes)])).code == "oversized"


def test_a_record_a_little_ahead_of_our_clock_is_accepted():
    soon = (NOW + timedelta(minutes=5)).isoformat()
    assert _parse(provision_answer(CODE, [provision_record(1, occurred_at=soon)])).records


def test_refusal_never_repeats_the_value_it_refused():
    secret = "山田 花子 526018159084"
    error = _refused(provision_answer(CODE, [provision_record(1, items_ja=secret + "\x07")]))
    assert secret not in str(error)
    error = _refused(provision_answer(CODE, [{**provision_record(1), secret: "x"}]))
    assert secret not in str(error)
