"""Fills empty msgstr entries of locale/en/LC_MESSAGES/django.po from locale/en/glossary.json.

makemessages keeps the .po in step with the source; the glossary (Japanese -> English) is the one place
translators edit, so a re-run of makemessages never loses a translation. Usage:
    python manage.py makemessages -l en ... && python scripts/fill-translations.py
Exits non-zero listing any msgid the glossary lacks, so a missing translation is caught in review.
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale/en/LC_MESSAGES/django.po"
GLOSSARY = ROOT / "locale/en/glossary.json"

ENTRY = re.compile(r'msgid ((?:".*"\n)+)msgstr ((?:".*"\n)+)')


def unquote(block: str) -> str:
    return "".join(json.loads(line) for line in block.strip().splitlines())


def quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False) + "\n"


def main() -> int:
    glossary = json.loads(GLOSSARY.read_text(encoding="utf-8"))
    missing = []

    def fill(match: re.Match) -> str:
        msgid = unquote(match.group(1))
        if not msgid:
            return match.group(0)
        english = glossary.get(msgid)
        if english is None:
            missing.append(msgid)
            return match.group(0)
        return f"msgid {match.group(1)}msgstr {quote(english)}"

    # msgmerge marks guesses from similar old messages "fuzzy" (and keeps the old msgid after "#|"): the
    # glossary is the only source of translations, so the guesses are dropped and every entry refilled.
    text = PO.read_text(encoding="utf-8")
    text = re.sub(r"^#\| .*\n", "", text, flags=re.MULTILINE)
    text = re.sub(r"^#, fuzzy\n", "", text, flags=re.MULTILINE)
    text = re.sub(r"^#, fuzzy, ", "#, ", text, flags=re.MULTILINE)
    PO.write_text(ENTRY.sub(fill, text), encoding="utf-8")
    for msgid in missing:
        print(f"no English for: {msgid}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
