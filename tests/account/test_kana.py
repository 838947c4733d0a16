"""The holder's kana name: canonical form, comparison form and matching (portal.account.kana), SPEC 2.6."""

import unicodedata

import jaconv
import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.account.kana import HOLDER_KANA_MAX_LENGTH, holder_kana_clean, kana_match_key, kana_names_match
from portal.core.errors import PortalError

LARGE = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
VOICED = "ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポヴ"
SMALL = "ァィゥェォッャュョ"
ENLARGE = str.maketrans(SMALL, "アイウエオツヤユヨ")
SPACES = ["", " ", "\u3000", "  ", " \u3000 "]


@st.composite
def words(draw, alphabet: str = LARGE + VOICED + SMALL) -> str:
    """One part of a name: up to 7 kana, any of them followed by a long-vowel mark."""
    kana = draw(st.lists(st.sampled_from(alphabet), min_size=1, max_size=7))
    return "".join(k + ("ー" if draw(st.booleans()) else "") for k in kana)


# Canonical names, as holder_kana_clean should give them: at most 3 × 14 + 2 = 44 characters.
names = st.lists(words(), min_size=1, max_size=3).map(" ".join)
plain_names = st.lists(words(LARGE + VOICED), min_size=1, max_size=3).map(" ".join)


def half_width(name: str) -> str:
    return jaconv.z2h(name, kana=True, ascii=False, digit=False)


def standalone_marks(name: str) -> str:
    return unicodedata.normalize("NFD", name).replace("\u3099", "゛").replace("\u309a", "゜")


FORMS = {
    "half-width": half_width,
    "hiragana": jaconv.kata2hira,
    "combining marks": lambda name: unicodedata.normalize("NFD", name),
    "standalone marks": standalone_marks,
    "half-width hiragana mix": lambda name: "".join(
        half_width(c) if i % 2 else jaconv.kata2hira(c) for i, c in enumerate(name)
    ),
}


@st.composite
def respaced(draw, name: str) -> str:
    """The same kana with spaces of any width removed, added or moved, between any two characters."""
    kana = name.replace(" ", "")
    return "".join(draw(st.sampled_from(SPACES)) + k for k in kana) + draw(st.sampled_from(SPACES))


# --- holder_kana_clean ------------------------------------------------------------------------------------


@given(names, st.sampled_from(sorted(FORMS)))
def test_holder_kana_clean_gives_full_width_katakana_for_any_form(name, form):
    assert holder_kana_clean(FORMS[form](name)) == name


@given(names, st.sampled_from(SPACES[1:]), st.sampled_from(SPACES[1:]))
def test_holder_kana_clean_collapses_and_trims_spaces(name, outer, inner):
    typed = outer + name.replace(" ", inner) + outer
    assert holder_kana_clean(typed) == name


@given(st.one_of(names, names.map(half_width), names.map(jaconv.kata2hira), names.map(standalone_marks)))
def test_holder_kana_clean_is_idempotent(typed):
    clean = holder_kana_clean(typed)
    assert holder_kana_clean(clean) == clean


@given(
    st.text(st.characters(codec="utf-8") | st.sampled_from("ｶﾞﾟ゛゜\u3099かぱゔーｰ-・ \u3000ァッ"), max_size=60)
)
def test_holder_kana_clean_refuses_or_returns_a_fixed_point(typed):
    try:
        clean = holder_kana_clean(typed)
    except PortalError as refused:
        assert refused.status == 422 and refused.code.startswith("holder_kana_")
        assert refused.message_ja and refused.message_en
    else:
        assert clean and holder_kana_clean(clean) == clean and len(clean) <= HOLDER_KANA_MAX_LENGTH
        # Cleaning never changes which names the text matches.
        assert kana_names_match(clean, typed) and kana_match_key(clean) == kana_match_key(typed)


@given(
    names,
    st.data(),
    st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from("ABCXYZabcxyzＡＢＣａｂｃ"),
    ),
)
def test_a_kanji_or_latin_letter_is_always_refused(name, data, wrong):
    at = data.draw(st.integers(min_value=0, max_value=len(name)))
    with pytest.raises(PortalError) as refused:
        holder_kana_clean(name[:at] + wrong + name[at:])
    assert refused.value.code == "holder_kana_invalid" and refused.value.status == 422
    assert f"「{wrong}」" in refused.value.message_ja and f'"{wrong}"' in refused.value.message_en


@given(names, st.data(), st.sampled_from("0123456789０１２３!?@#＃＆()（）/.,、。「」〒★♪"))
def test_a_digit_or_symbol_is_always_refused(name, data, wrong):
    at = data.draw(st.integers(min_value=0, max_value=len(name)))
    with pytest.raises(PortalError) as refused:
        holder_kana_clean(name[:at] + wrong + name[at:])
    assert refused.value.code == "holder_kana_invalid" and wrong in refused.value.message_ja


@pytest.mark.parametrize(
    ("typed", "clean"),
    [
        ("ｶﾞﾊﾟ ｼﾞｮｰｼﾞ", "ガパ ジョージ"),
        ("  じょーじ・すみす ", "ジョージ スミス"),
        ("ジョン･スミス", "ジョン スミス"),
        ("カ゛ハ゜", "ガパ"),
        ("ウ\u3099ァイオリン", "ヴァイオリン"),
        ("ｼﾞｮ-ｼﾞ", "ジョージ"),
        ("ジョ－ジ", "ジョージ"),
        ("ジョ‐ジ", "ジョージ"),
        ("ジョ―ジ", "ジョージ"),
        ("ジョ−ジ", "ジョージ"),
        ("ヤマダ\tハナコ", "ヤマダ ハナコ"),
    ],
)
def test_holder_kana_clean_examples(typed, clean):
    assert holder_kana_clean(typed) == clean


@pytest.mark.parametrize("typed", ["", "   ", "\u3000\u3000", "・", " ･ "])
def test_holder_kana_clean_refuses_empty(typed):
    with pytest.raises(PortalError) as refused:
        holder_kana_clean(typed)
    assert refused.value.code == "holder_kana_empty" and refused.value.status == 422
    assert (
        "入力してください" in refused.value.message_ja
        and "Enter the account holder's name" in refused.value.message_en
    )
    assert refused.value.extra == {"field": "holder_kana"}


def test_holder_kana_clean_takes_exactly_the_maximum_length():
    assert holder_kana_clean("ア" * HOLDER_KANA_MAX_LENGTH) == "ア" * HOLDER_KANA_MAX_LENGTH
    # Half-width voiced kana take two characters as typed and one when clean.
    assert holder_kana_clean("ｶﾞ" * HOLDER_KANA_MAX_LENGTH) == "ガ" * HOLDER_KANA_MAX_LENGTH


@pytest.mark.parametrize(("typed", "length"), [("ア" * 49, 49), ("ヤマダ " * 13, 51), ("ア" * 500, 500)])
def test_holder_kana_clean_refuses_too_long(typed, length):
    with pytest.raises(PortalError) as refused:
        holder_kana_clean(typed)
    assert refused.value.code == "holder_kana_too_long" and refused.value.status == 422
    assert "48文字以内" in refused.value.message_ja and f"{length}文字" in refused.value.message_ja
    assert (
        "at most 48 characters" in refused.value.message_en
        and f"you entered {length}" in refused.value.message_en
    )


def test_holder_kana_clean_refuses_kanji_with_a_hint_to_type_the_reading():
    with pytest.raises(PortalError) as refused:
        holder_kana_clean("山田 はなこ")
    assert refused.value.code == "holder_kana_invalid"
    assert refused.value.message_ja.startswith("口座名義はカタカナで入力してください。")
    assert "「山」、「田」" in refused.value.message_ja and "漢字ではなく" in refused.value.message_ja
    assert refused.value.message_en.startswith("Enter the account holder's name in katakana.")
    assert '"山", "田"' in refused.value.message_en and "Instead of kanji" in refused.value.message_en


def test_holder_kana_clean_refuses_iteration_marks_as_kanji():
    with pytest.raises(PortalError) as refused:
        holder_kana_clean("ササ々キ")
    assert "「々」" in refused.value.message_ja and "漢字ではなく" in refused.value.message_ja


def test_holder_kana_clean_refuses_roman_letters_without_the_kanji_hint():
    with pytest.raises(PortalError) as refused:
        holder_kana_clean("SMITH ジョン")
    assert "「S」、「M」、「I」、「T」、「H」" in refused.value.message_ja
    assert "漢字" not in refused.value.message_ja and "kanji" not in refused.value.message_en


def test_holder_kana_clean_names_five_wrong_characters_and_says_there_are_more():
    with pytest.raises(PortalError) as refused:
        holder_kana_clean("ABCDEFG")
    assert "「E」 ほか" in refused.value.message_ja and "「F」" not in refused.value.message_ja
    assert '"E" and others' in refused.value.message_en


def test_holder_kana_clean_shows_invisible_characters_by_code_point():
    with pytest.raises(PortalError) as refused:
        holder_kana_clean("ヤマダ\x00ハナコ")
    assert "U+0000" in refused.value.message_ja and "\x00" not in refused.value.message_ja


@pytest.mark.parametrize("typed", ["ーヤマダ", "ヤマダ ーハナコ", "ヤマダー ・ーハナコ", "ヤマダーー"])
def test_holder_kana_clean_refuses_a_long_vowel_mark_that_follows_no_kana(typed):
    with pytest.raises(PortalError) as refused:
        holder_kana_clean(typed)
    assert refused.value.code == "holder_kana_invalid" and "長音記号" in refused.value.message_ja
    assert "long-vowel mark" in refused.value.message_en


@pytest.mark.parametrize("typed", ["゛ヤマダ", "ア゛", "ヤマダ ﾞハナコ", "ン\u309a", "アー゛"])
def test_holder_kana_clean_refuses_a_voiced_mark_on_nothing(typed):
    with pytest.raises(PortalError) as refused:
        holder_kana_clean(typed)
    assert refused.value.code == "holder_kana_invalid" and "濁点" in refused.value.message_ja
    assert "voiced mark" in refused.value.message_en


# --- kana_match_key and kana_names_match ------------------------------------------------------------------


@given(st.text(max_size=40))
def test_kana_match_key_is_idempotent_on_any_text(text):
    key = kana_match_key(text)
    assert kana_match_key(key) == key


@given(names, st.sampled_from(sorted(FORMS)))
def test_kana_match_key_is_idempotent_on_names(name, form):
    key = kana_match_key(FORMS[form](name))
    assert kana_match_key(key) == key


@given(names)
def test_kana_match_key_is_large_katakana_without_spaces_or_long_vowels(name):
    key = kana_match_key(name)
    assert key == name.replace(" ", "").replace("ー", "").translate(ENLARGE)


@given(names, st.sampled_from(sorted(FORMS)))
def test_any_kana_name_matches_its_other_forms(name, form):
    assert kana_names_match(name, FORMS[form](name))


@given(names, st.data())
def test_any_kana_name_matches_with_spaces_moved(name, data):
    assert kana_names_match(name, data.draw(respaced(name)))


@given(names)
def test_any_kana_name_matches_with_small_kana_made_large_and_long_vowels_dropped(name):
    assert kana_names_match(name, name.translate(ENLARGE).replace("ー", ""))


@given(st.one_of(names, names.map(half_width), st.text(max_size=10)), st.one_of(names, st.text(max_size=10)))
def test_kana_names_match_is_symmetric(a, b):
    assert kana_names_match(a, b) == kana_names_match(b, a)


@given(names, st.data(), st.sampled_from(LARGE + VOICED))
def test_changing_one_kana_breaks_the_match(name, data, new):
    positions = [i for i, c in enumerate(name) if c not in " ー" and c.translate(ENLARGE) != new]
    at = data.draw(st.sampled_from(positions)) if positions else None
    if at is None:  # every kana is already `new`: change the first to something else
        at, new = 0, ("ア" if new != "ア" else "イ")
    assert not kana_names_match(name, name[:at] + new + name[at + 1 :])


@given(names, st.data())
def test_dropping_one_kana_breaks_the_match(name, data):
    at = data.draw(st.sampled_from([i for i, c in enumerate(name) if c not in " ー"]))
    assert not kana_names_match(name, name[:at] + name[at + 1 :])


@pytest.mark.parametrize(
    "typed", ["ｻﾄｳ ﾐｻｷ", "さとう みさき", "サトウミサキ", "サトウ　ミサキ", " サトウ  ミサキ "]
)
def test_own_name_matches_in_any_form(typed):
    assert kana_names_match("サトウ ミサキ", typed) and kana_names_match(typed, "サトウ ミサキ")


@pytest.mark.parametrize(
    ("card", "typed"),
    [
        ("スミス ジョン", "ｽﾐｽ ｼﾞﾖﾝ"),
        ("スミス ジョン", "スミス ジヨン"),
        ("スミス ジョン", "スミス・ジョン"),
        ("スズキ イチロウ", "ｽｽﾞｷ ｲﾁﾛｳ"),
        ("スズキ イチロウ", "スス\u3099キ イチロウ"),
        ("ジョージ", "ｼﾞﾖ-ｼﾞ"),
        ("ジョージ", "ジヨジ"),
        ("ヴァン", "ｳﾞｧﾝ"),
        ("ヴァン", "ウ゛アン"),
    ],
)
def test_names_match_as_banks_compare_them(card, typed):
    assert kana_names_match(card, typed)


@pytest.mark.parametrize(
    ("card", "typed"),
    [
        ("タナカ ユキ", "タナカ カズオ"),  # a family member's name: the 2023 lesson
        ("サトウ", "サドウ"),  # voiced marks matter
        ("サトウ ミサキ", "サトウ ミサ"),
        ("ヴァン", "ブアン"),
        ("ジョン スミス", "スミス ジョン"),  # order matters
        ("ヤマダ", ""),
        ("", ""),
        ("山田", "山田"),  # only kana names match, so kanji can never stand in for a reading
        ("ア゛", "ア゛"),
    ],
)
def test_names_that_do_not_match(card, typed):
    assert not kana_names_match(card, typed)
