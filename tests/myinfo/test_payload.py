"""Reading an agency's answer strictly, checking its data against the contract, and who it is about."""

import datetime as dt
import json
import os

import pytest

from portal.myinfo import payload as payload_module
from portal.myinfo.payload import (
    MyinfoPayloadError,
    Subject,
    data_validate,
    identity_mismatches,
    name_key,
    parse_self_information,
)
from tests.myinfo.conftest import HOUSEHOLD_DATA, answer_for, code_for

NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def _parse(resident, body, category="household"):
    return parse_self_information(
        body,
        agency_id="municipal-resident" if category == "household" else "municipal-child",
        expected_code=code_for(resident, category),
        category=category,
        now=NOW,
    )


def _refused(resident, body) -> MyinfoPayloadError:
    with pytest.raises(MyinfoPayloadError) as caught:
        _parse(resident, body)
    return caught.value


@pytest.mark.django_db
def test_a_good_answer_is_read(resident):
    answer = _parse(resident, answer_for(resident, "household", HOUSEHOLD_DATA))
    assert answer.subject == Subject(resident.name, resident.name_kana, resident.birth_date)
    assert answer.as_of == dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
    assert answer.data == HOUSEHOLD_DATA


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "code", "where"),
    [
        ({"agency_code": "SOMEONEELSE"}, "wrong_subject", "answer.agency_code"),
        ({"agency_id": "municipal-tax"}, "malformed", "answer.agency_id"),
        ({"category": "pension"}, "malformed", "answer.category"),
        ({"as_of": "2026-11-23"}, "malformed", "answer.as_of"),
        ({"as_of": "2026-11-23T10:00:00"}, "malformed", "answer.as_of"),
        ({"as_of": "2027-01-01T00:00:00+09:00"}, "malformed", "answer.as_of"),
        ({"data": ["not", "an", "object"]}, "malformed", "answer.data"),
        ({"subject": {"name": "x", "birth_date": "1985-04-01"}}, "malformed", "answer.subject"),
        (
            {"subject": {"name": "", "name_kana": "", "birth_date": "1985-04-01"}},
            "malformed",
            "answer.subject.name",
        ),
        (
            {"subject": {"name": "x" * 201, "name_kana": "", "birth_date": "1985-04-01"}},
            "oversized",
            "answer.subject.name",
        ),
        (
            {"subject": {"name": "x\u0000", "name_kana": "", "birth_date": "1985-04-01"}},
            "malformed",
            "answer.subject.name",
        ),
        (
            {"subject": {"name": "x", "name_kana": "", "birth_date": "1985/04/01"}},
            "malformed",
            "answer.subject.birth_date",
        ),
        (
            {"subject": {"name": "x", "name_kana": "", "birth_date": "1985-02-30"}},
            "malformed",
            "answer.subject.birth_date",
        ),
        ({"extra": "field"}, "malformed", "answer"),
    ],
)
def test_a_bad_envelope_is_refused_naming_where(resident, change, code, where):
    error = _refused(resident, answer_for(resident, "household", **change))
    assert (error.code, error.where) == (code, where)


@pytest.mark.django_db
def test_missing_fields_and_non_objects_are_refused(resident):
    body = answer_for(resident, "household")
    del body["as_of"]
    assert "missing as_of" in _refused(resident, body).problem
    assert _refused(resident, ["a list"]).where == "answer"


@pytest.mark.django_db
def test_absurdly_deep_data_is_refused(resident):
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    assert "deeper" in _refused(resident, answer_for(resident, "household", deep)).problem


def test_data_checked_against_its_contract(contracts):
    assert data_validate(category="household", data=HOUSEHOLD_DATA) is True
    assert data_validate(category="pension", data={"anything": 1}) is False  # no contract: envelope only


@pytest.mark.parametrize(
    ("change", "where", "rule"),
    [
        ({"member_count": "one"}, "answer.data.member_count", "type"),
        ({"member_count": 0}, "answer.data.member_count", "minimum"),
        ({"unexpected": True}, "answer.data", "additionalProperties"),
        ({"head": {"name": "試験 太郎"}}, "answer.data.head", "required"),  # through the $ref to common
        (
            {"members": [{"name": "試験 太郎", "birth_date": "1985-13-01", "relationship": "世帯主"}]},
            "answer.data.members[0].birth_date",
            "format",
        ),
    ],
)
def test_data_outside_its_contract_is_refused_without_quoting_it(contracts, change, where, rule):
    with pytest.raises(MyinfoPayloadError) as caught:
        data_validate(category="household", data={**HOUSEHOLD_DATA, **change})
    assert (caught.value.code, caught.value.where) == ("malformed", where)
    assert rule in caught.value.problem
    assert "1985-13-01" not in str(caught.value) and "'one'" not in str(caught.value)


def _fast(contracts, category: str):
    path = contracts / f"{category}.schema.json"
    return payload_module._fast_validator(str(path), path.stat().st_mtime_ns)


@pytest.mark.parametrize(
    "change",
    [
        {"member_count": "one"},
        {"member_count": 0},
        {"unexpected": True},
        {"head": {"name": "試験 太郎"}},
        {"members": [{"name": "試験 太郎", "birth_date": "1985-13-01", "relationship": "世帯主"}]},
    ],
)
def test_the_fast_check_refuses_what_the_reference_refuses(contracts, change):
    assert _fast(contracts, "household").is_valid(HOUSEHOLD_DATA)
    assert not _fast(contracts, "household").is_valid({**HOUSEHOLD_DATA, **change})


def test_a_valid_answer_never_reaches_the_slow_reference(contracts, monkeypatch):
    def refuse(errors):
        raise AssertionError("the reference validator ran for a valid answer")

    monkeypatch.setattr(payload_module, "best_match", refuse)
    assert data_validate(category="household", data=HOUSEHOLD_DATA) is True


def test_where_the_fast_check_is_stricter_the_reference_decides(contracts, monkeypatch):
    class Stricter:
        def is_valid(self, data):
            return False

    monkeypatch.setattr(payload_module, "_fast_validator", lambda path, modified_ns: Stricter())
    assert data_validate(category="household", data=HOUSEHOLD_DATA) is True
    with pytest.raises(MyinfoPayloadError, match="minimum"):
        data_validate(category="household", data={**HOUSEHOLD_DATA, "member_count": 0})


def test_a_contract_changed_on_disk_is_read_again(contracts):
    assert data_validate(category="household", data=HOUSEHOLD_DATA)
    path = contracts / "household.schema.json"
    schema = json.loads(path.read_text())
    schema["required"].append("postcode")
    path.write_text(json.dumps(schema))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    with pytest.raises(MyinfoPayloadError, match="required"):
        data_validate(category="household", data=HOUSEHOLD_DATA)


@pytest.mark.parametrize(
    ("agency", "ours"),
    [
        ("山田　花子", "山田 花子"),  # full-width space
        ("山田花子", "山田 花子"),
        (" 山田  花子 ", "山田 花子"),
        ("SMITH JOHN", "Smith John"),
        ("ＳＭＩＴＨ　ＪＯＨＮ", "SMITH JOHN"),  # full-width letters
        ("ｽｽﾞｷ", "スズキ"),  # half-width kana
    ],
)
def test_the_same_name_written_differently_matches(agency, ours):
    assert name_key(agency) == name_key(ours)


@pytest.mark.parametrize(
    ("agency", "ours"),
    [("鈴木 一朗", "鈴木 一郎"), ("SMITH JOHN", "JOHN SMITH"), ("山田 花子", "山田 花")],
)
def test_different_names_do_not_match(agency, ours):
    assert name_key(agency) != name_key(ours)


@pytest.mark.django_db
def test_identity_mismatches_name_which_attributes_differ(resident):
    same = Subject(resident.name.replace(" ", "　"), "", resident.birth_date)
    assert identity_mismatches(subject=same, resident=resident) == []
    other_day = Subject(resident.name, resident.name_kana, resident.birth_date + dt.timedelta(days=1))
    assert identity_mismatches(subject=other_day, resident=resident) == ["birth_date"]
    stranger = Subject("鈴木 一朗", "スズキ イチロウ", dt.date(1979, 8, 1))
    assert identity_mismatches(subject=stranger, resident=resident) == ["name", "birth_date"]
