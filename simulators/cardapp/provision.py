"""``init``: make sure the CA exists and every demo person has a card; revoke what people.json says.

Idempotent: existing cards keep their keys and counters. A card whose certificates came from another CA
(the CA folder was wiped) is reissued, since the portal would never trust it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from simulators.ca import CRL_FILE, TestCA
from simulators.cardapp.card import CardStore
from simulators.cardapp.config import Settings


@dataclass
class InitReport:
    issued: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def load_people(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text("utf-8"))
    people = data["people"] if isinstance(data, dict) else data
    return [person for person in people if isinstance(person, dict) and "id" in person]


def _issued_by(certificate: x509.Certificate, ca: TestCA) -> bool:
    try:
        certificate.verify_directly_issued_by(ca.certificate)
    except Exception:  # InvalidSignature, ValueError, TypeError: all mean "not ours"
        return False
    return True


def init(settings: Settings | None = None) -> tuple[TestCA, CardStore, InitReport]:
    """Provision the CA and the cards; writes the CA files (and crl.der) when anything changed."""
    settings = settings or Settings.from_env()
    ca = TestCA.load_or_create(settings.ca_dir, crl_url=settings.crl_url)
    store = CardStore(settings.db_path)
    report = InitReport()
    changed = False
    existing = {card.id: card for card in store.all()}
    for person in load_people(settings.people_file):
        card = existing.get(person["id"])
        if card is None or not _issued_by(card.auth_certificate, ca):
            card = store.issue_card(ca, person)
            report.issued.append(card.id)
            changed = True
        else:
            report.kept.append(card.id)
        if (person.get("card") or {}).get("revoked"):
            certificates = [c for c in (card.auth_certificate, card.signature_certificate) if c is not None]
            for certificate in certificates:
                if not ca.is_revoked(certificate):
                    # keyCompromise: the demo's story is a card reported lost.
                    ca.revoke(certificate, x509.ReasonFlags.key_compromise)
                    changed = True
            if not card.revoked:
                store.set_revoked(card.id)
                report.revoked.append(card.id)
    if changed or not (settings.ca_dir / CRL_FILE).exists():
        ca.save(settings.ca_dir)
    return ca, store, report
