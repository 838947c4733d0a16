"""A principal's card on the CA's revocation list: their proxies stop until the principal keeps or ends
each one, and the principal is told."""

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.utils import timezone

from notices.models import Notice
from portal.core.crypto import lookup_hash
from portal.identity.models import CardCertificate
from portal.identity.services import card_revocations_record
from portal.proxies.models import GrantState, ProxyGrant
from tests.proxies.conftest import grant_between, logged_in

pytestmark = pytest.mark.django_db
ISSUER = x509.Name(
    [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, "T")]
)


def _crl(*serials: int) -> x509.CertificateRevocationList:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ISSUER)
        .last_update(now)
        .next_update(now + dt.timedelta(days=1))
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    return builder.sign(key, hashes.SHA256())


def _card(resident, serial: int) -> CardCertificate:
    return CardCertificate.objects.create(
        resident=resident,
        kind="auth",
        serial_hash=lookup_hash(f"{ISSUER.rfc4514_string()}|{serial}", purpose="jpki-serial"),
        not_after=timezone.now() + dt.timedelta(days=365),
    )


def test_a_revoked_card_holds_the_principals_proxies_until_he_decides(kazuo, yuki, stranger):
    _card(kazuo, 1001)
    _card(stranger, 2002)
    kept = grant_between(kazuo, yuki, ["medical"])
    other = grant_between(stranger, yuki, ["history"])
    proxy = logged_in(yuki)
    assert proxy.post(f"/proxies/{kept.public_id}/act/").status_code == 302

    assert card_revocations_record(crl=_crl(1001, 99)) == [kazuo.pk]
    kept.refresh_from_db()
    other.refresh_from_db()
    assert kept.review_required and kept.state == GrantState.ACTIVE and not other.review_required
    assert Notice.objects.filter(recipient=kazuo, title_ja="代理人の確認をお願いします").exists()
    # The proxy is stopped at once.
    assert 'id="acting-banner"' not in proxy.get("/proxies/").content.decode()
    assert proxy.post(f"/proxies/{kept.public_id}/act/").status_code == 404

    principal = logged_in(kazuo)
    assert "keep-grant" in principal.get("/proxies/").content.decode()
    assert principal.post(f"/proxies/{kept.public_id}/keep/").status_code == 302
    assert proxy.post(f"/proxies/{kept.public_id}/act/").status_code == 302

    # The same list again changes nothing more.
    assert card_revocations_record(crl=_crl(1001, 99)) == []
    assert not ProxyGrant.objects.get(pk=kept.pk).review_required
