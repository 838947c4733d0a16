"""English is complete (SPEC 8): every message in the catalogue has its translation."""

import re
from pathlib import Path

PO = Path(__file__).resolve().parents[2] / "locale/en/LC_MESSAGES/django.po"


def test_every_message_has_an_english_translation():
    text = PO.read_text(encoding="utf-8")
    entries = re.findall(r'msgid ((?:".*"\n)+)msgstr ((?:".*"\n)+)', text)
    untranslated = [msgid for msgid, msgstr in entries[1:] if msgstr.strip() == '""']
    assert entries and untranslated == []
    assert "#, fuzzy" not in text
