"""Shared fixtures: a test CA with cards for the demo people, and helpers that log in through the card."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.cache import cache

from portal.celery import app as celery_app
from portal.core.outages import redis_holds_clear
from portal.identity import jpki
from simulators.ca import TestCA
from simulators.cardapp import CardStore

REPO = Path(__file__).resolve().parent.parent
PEOPLE = {p["id"]: p for p in json.loads((REPO / "demo" / "people.json").read_text())["people"]}


@dataclass
class Jpki:
    ca: TestCA
    cards: CardStore
    ca_cert_path: Path
    crl_der: bytes
    directory: Path

    def refresh_crl(self) -> None:
        from cryptography.hazmat.primitives.serialization import Encoding

        self.crl_der = self.ca.crl().public_bytes(Encoding.DER)


@pytest.fixture(scope="session")
def jpki_env(tmp_path_factory) -> Jpki:
    """One CA and one card per demo person for the whole run (RSA key generation is the slow part)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    directory = tmp_path_factory.mktemp("jpki")
    ca = TestCA.create(common_name="JPKI Test CA")
    cards = CardStore(directory / "cards.sqlite3")
    for person in PEOPLE.values():
        card = cards.issue_card(ca, person)
        if person["card"]["revoked"]:
            ca.revoke(card.auth_certificate)
            if card.signature_certificate is not None:
                ca.revoke(card.signature_certificate)
    ca_cert_path = directory / "ca-cert.pem"
    ca_cert_path.write_bytes(ca.certificate.public_bytes(Encoding.PEM))
    return Jpki(
        ca=ca,
        cards=cards,
        ca_cert_path=ca_cert_path,
        crl_der=ca.crl().public_bytes(Encoding.DER),
        directory=directory,
    )


@pytest.fixture(autouse=True)
def _clean_cache():
    redis_holds_clear()  # a Redis one test made fail is not held off in the next
    cache.clear()
    jpki._crl_memory.clear()
    yield
    jpki._crl_memory.clear()
    redis_holds_clear()


@pytest.fixture
def trusted_jpki(jpki_env, settings) -> Jpki:
    """The portal trusts the test CA and holds its current CRL (as the periodic refresh would leave it)."""
    settings.JPKI_TRUST_ANCHORS = str(jpki_env.ca_cert_path)
    settings.JPKI_CRL_URL = "http://127.0.0.1:9/unreachable-crl"  # tests that need a fetch set their own
    jpki_env.refresh_crl()
    cache.set(jpki.CRL_CACHE_KEY, jpki_env.crl_der, timeout=3600)
    for card_id in jpki_env.cards.ids():
        jpki_env.cards.reset(card_id)
    return jpki_env


@pytest.fixture
def eager():
    """Tasks run in this process when queued (retries too, at once), as the worker would run them."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = True, False
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture
def stop_shared_cache(settings):
    """Call it to make the shared cache a Redis that refuses connections, as one does while it restarts."""

    def stop() -> None:
        settings.CACHES = {
            "default": {
                "BACKEND": "portal.core.cache.PortalRedisCache",
                "LOCATION": "redis://127.0.0.1:9/0",
            }
        }

    return stop
