"""法人番号: the National Tax Agency's check digit, tried on published numbers and on near misses."""

import pytest

from portal.firms.validation import (
    corporate_number_check_digit,
    corporate_number_normalize,
    corporate_number_problem,
)

PUBLISHED = [
    "7000012050002",  # 国税庁 (National Tax Agency)
    "4011001098993",  # 株式会社FoundingBase
    "2120901007402",  # the worked example of a tax accountant's guide (a real company's number)
    "7123456789012",  # the worked example that explains the ordinance's formula
]


@pytest.mark.parametrize("number", PUBLISHED)
def test_published_numbers_pass(number):
    assert corporate_number_check_digit(number[1:]) == int(number[0])
    assert corporate_number_problem(number) is None


def test_the_formula_weights_digits_from_the_least_significant():
    # 7123456789012: Σ = 2×1 + 1×2 + 0×1 + 9×2 + 8×1 + 7×2 + 6×1 + 5×2 + 4×1 + 3×2 + 2×1 + 1×2 = 74,
    # and 9 − 74 mod 9 = 7
    assert corporate_number_check_digit("123456789012") == 7
    # A multiple of 9 gives 9, never 0.
    assert corporate_number_check_digit("000000000000") == 9


@pytest.mark.parametrize("number", PUBLISHED)
def test_every_other_check_digit_is_refused(number):
    for digit in "0123456789":
        if digit != number[0]:
            assert corporate_number_problem(digit + number[1:]) is not None


def test_a_changed_base_digit_is_caught():
    assert corporate_number_problem("7000012050003") is not None
    assert corporate_number_problem("4011001098939") is not None  # two digits swapped


@pytest.mark.parametrize(
    "text",
    ["", "700001205000", "70000120500021", "70000120500O2", "abcdefghijklm"],
)
def test_not_13_digits_is_refused(text):
    assert corporate_number_problem(corporate_number_normalize(text)) is not None


def test_full_width_digits_and_group_hyphens_are_accepted():
    assert corporate_number_normalize("７０００-０１２０-５０００２") == "7000012050002"
    assert corporate_number_normalize(" 7000 0120 50002 ") == "7000012050002"


def test_a_base_number_must_be_12_digits():
    with pytest.raises(ValueError):
        corporate_number_check_digit("12345")
