"""口座名義カナ: the account holder's kana name, made canonical and compared as banks compare names.

SPEC 2.6: a public-fund account must be in the resident's own name, so the holder's kana is checked against
the resident's kana from the card. Pure functions: no database, no network; never guess a kana reading.

Decisions (also in the functions' docstrings):
- The long-vowel mark is accepted after a kana. ー, half-width ｰ and the dashes people type for it
  (-, －, ‐, ‑, ‒, –, —, ―, −, ─) are stored as ー; at the start of a part it is refused. The bank
  character set writes the long vowel and the hyphen alike (-), and records write it in several ways (ｰ,
  -, or not at all), so a dash is read as ー and the comparison form drops it.
- The middle dot (・, half-width ･, ·) separates the parts of foreign names ("ジョン・スミス"). The bank
  character set has no middle dot, so it is stored as a space, and spaces do not count in the comparison.
"""

import re
import unicodedata

import jaconv

from portal.core.errors import PortalError

HOLDER_KANA_MAX_LENGTH = 48

# Voiced (゛) and semi-voiced (゜) marks in every form people type them: half-width, standalone, combining.
_VOICED_MARKS = str.maketrans({"ﾞ": "\u3099", "ﾟ": "\u309a", "゛": "\u3099", "゜": "\u309a"})
LONG_VOWEL_MARKS = "ーｰ-－‐‑‒–—―−─"
MIDDLE_DOTS = "・･·"
_TO_LONG_VOWEL = str.maketrans(dict.fromkeys(LONG_VOWEL_MARKS, "ー"))
_TO_SPACE = str.maketrans(dict.fromkeys(MIDDLE_DOTS, " "))
_SMALL_TO_LARGE = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_DROP_IN_KEY = str.maketrans(dict.fromkeys(LONG_VOWEL_MARKS + MIDDLE_DOTS))
_SPACES = re.compile(r"\s+")

# Katakana a name may hold: ァ (U+30A1) to ヺ (U+30FA), which excludes the middle dot, ー and the
# iteration marks ヽヾ; ー and the space are allowed separately, in their places.
_KATAKANA = frozenset(chr(c) for c in range(0x30A1, 0x30FB))
_KEY_KATAKANA = _KATAKANA - set("ァィゥェォッャュョヮヵヶ")


def _unify(text: str) -> str:
    """Half-width and hiragana to full-width katakana, marks to combining form (composed later by NFC)."""
    text = text.translate(_VOICED_MARKS)
    text = jaconv.h2z(text, kana=True, ascii=False, digit=False)
    return jaconv.hira2kata(text)


def _shown(char: str) -> str:
    return char if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


def _is_kanji(char: str) -> bool:
    return char in "々〆" or unicodedata.name(char, "").startswith(
        ("CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH")
    )


def _holder_error(code: str, ja: str, en: str) -> PortalError:
    return PortalError(code, ja, en, 422, extra={"field": "holder_kana"})


def holder_kana_clean(text: str) -> str:
    """The holder's kana name as typed, made canonical for storage and the bank check.

    Returns full-width katakana with single half-width spaces between the parts: hiragana and half-width
    kana converted (ｶﾞ → ガ, ﾊﾟ → パ), voiced marks composed, long-vowel marks written ー, middle dots
    turned into spaces, spaces of any width collapsed and trimmed. Small kana stay as typed (ジョン).
    Refuses (PortalError 422) empty text, more than HOLDER_KANA_MAX_LENGTH characters, and kanji, roman
    letters, digits or symbols, naming the characters that cannot be used.
    """
    if not isinstance(text, str) or not text.strip():
        raise _holder_error(
            "holder_kana_empty",
            "口座名義（カナ）を入力してください。",
            "Enter the account holder's name in katakana.",
        )
    # Cheap bound before any work: half-width kana with marks take at most two characters each.
    if len(text) > HOLDER_KANA_MAX_LENGTH * 4:
        raise _too_long(len(text))
    text = _unify(text).translate(_TO_LONG_VOWEL).translate(_TO_SPACE)
    text = unicodedata.normalize("NFC", _SPACES.sub(" ", text).strip())
    if not text:
        raise _holder_error(
            "holder_kana_empty",
            "口座名義（カナ）を入力してください。",
            "Enter the account holder's name in katakana.",
        )
    wrong = list(dict.fromkeys(c for c in text if c not in _KATAKANA and c not in "ー \u3099\u309a"))
    if wrong:
        shown_ja = "、".join(f"「{_shown(c)}」" for c in wrong[:5])
        shown_en = ", ".join(f'"{_shown(c)}"' for c in wrong[:5])
        more = len(wrong) > 5
        ja = f"口座名義はカタカナで入力してください。使えない文字: {shown_ja}{' ほか' if more else ''}。"
        en = (
            f"Enter the account holder's name in katakana. These characters cannot be used: {shown_en}"
            f"{' and others' if more else ''}."
        )
        if any(_is_kanji(c) for c in wrong):
            ja += "漢字ではなく、通帳に印字された読みのとおりに入力してください。"
            en += " Instead of kanji, enter the reading as printed in your passbook."
        raise _holder_error("holder_kana_invalid", ja, en)
    for index, char in enumerate(text):
        before = text[index - 1] if index else " "
        if char in "\u3099\u309a":
            # NFC composed every mark that has a kana to sit on: what is left sits on nothing.
            raise _holder_error(
                "holder_kana_invalid",
                "口座名義の濁点（゛）・半濁点（゜）は、それを付けられるカナの直後に入力してください。",
                "In the account holder's name, a voiced mark (゛ or ゜) must directly follow a kana that"
                " can take it.",
            )
        if char == "ー" and before not in _KATAKANA:
            raise _holder_error(
                "holder_kana_invalid",
                "口座名義の長音記号（ー）は、カナの後にだけ入力できます。",
                "In the account holder's name, the long-vowel mark (ー) can only follow a kana.",
            )
    if len(text) > HOLDER_KANA_MAX_LENGTH:
        raise _too_long(len(text))
    return text


def _too_long(length: int) -> PortalError:
    return _holder_error(
        "holder_kana_too_long",
        f"口座名義（カナ）は{HOLDER_KANA_MAX_LENGTH}文字以内で入力してください（入力は{length}文字）。",
        f"The account holder's name can have at most {HOLDER_KANA_MAX_LENGTH} characters"
        f" (you entered {length}).",
    )


def kana_match_key(text: str) -> str:
    """The comparison form of a kana name, as banks compare names.

    Full-width katakana; small kana made large (ョ → ヨ); voiced and semi-voiced marks kept but composed
    whatever their form (カ+゛ → ガ, ｳﾞ → ヴ); long-vowel marks, middle dots and all spaces removed;
    hiragana converted. Total: any other character is kept as it is, so the result is never a false match
    for text that holds no kana. Idempotent.
    """
    text = _unify(text)
    # Drop separators and enlarge before composing, so that composing is the last change and a second
    # pass finds nothing to do (カ ゛ would otherwise compose only on the second pass).
    text = _SPACES.sub("", text.translate(_DROP_IN_KEY)).translate(_SMALL_TO_LARGE)
    return unicodedata.normalize("NFC", text)


def kana_names_match(a: str, b: str) -> bool:
    """Whether two kana names are the same name for a bank: equal comparison forms made only of kana.

    Symmetric. A name whose comparison form is empty or holds anything but katakana (kanji, letters,
    a stray mark) matches nothing, not even itself.
    """
    key = kana_match_key(a)
    return bool(key) and key == kana_match_key(b) and all(c in _KEY_KATAKANA for c in key)
