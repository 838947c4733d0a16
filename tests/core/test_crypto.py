"""Field encryption: AES-GCM tokens with key ids, bound to their column, and key rotation."""

import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from portal.core.crypto import DecryptionError, FieldCipher, new_field_key
from portal.identity.models import Resident
from tests.factories import ResidentFactory


def _cipher(*kids: str) -> tuple[FieldCipher, dict[str, str]]:
    keys = {kid: new_field_key() for kid in kids}
    return FieldCipher.from_spec(",".join(f"{k}:{v}" for k, v in keys.items())), keys


def test_round_trip_and_random_nonce():
    cipher, _ = _cipher("k1")
    first = cipher.encrypt("123456789018", context="identity.Resident.my_number")
    second = cipher.encrypt("123456789018", context="identity.Resident.my_number")
    assert first != second and first.startswith("v1$k1$")
    assert "123456789018" not in first
    assert cipher.decrypt(first, context="identity.Resident.my_number") == "123456789018"


def test_value_moved_to_another_column_does_not_decrypt():
    cipher, _ = _cipher("k1")
    token = cipher.encrypt("secret", context="identity.Resident.my_number")
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, context="identity.SigningRequest.card_identity")


def test_tampered_or_unknown_tokens_are_refused():
    cipher, _ = _cipher("k1")
    token = cipher.encrypt("secret", context="c")
    body = token.split("$")[2]
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in (f"v1$k1${flipped}", "v1$k9$" + body, "v2$k1$" + body, "plain text"):
        with pytest.raises(DecryptionError):
            cipher.decrypt(bad, context="c")


@pytest.mark.parametrize("spec", ["", "k1", "k1:short", "k$1:" + "A" * 43])
def test_bad_key_configuration_is_refused(spec):
    with pytest.raises(ImproperlyConfigured):
        FieldCipher.from_spec(spec)


@pytest.mark.django_db
def test_my_number_is_stored_encrypted_and_cannot_be_searched():
    resident = ResidentFactory()
    with connection.cursor() as cursor:
        cursor.execute("SELECT my_number FROM identity_resident WHERE id = %s", [resident.pk])
        (stored,) = cursor.fetchone()
    assert stored.startswith("v1$") and resident.my_number not in stored
    assert Resident.objects.get(pk=resident.pk).my_number == resident.my_number
    assert Resident.objects.get(pk=resident.pk).my_number_masked.endswith(resident.my_number[-4:])
    with pytest.raises(TypeError):
        Resident.objects.filter(my_number=resident.my_number).exists()


@pytest.mark.django_db
def test_rotate_keys_re_encrypts_under_the_new_key(settings):
    old_spec = settings.FIELD_ENCRYPTION_KEYS
    residents = ResidentFactory.create_batch(3)
    new_spec = f"knew:{new_field_key()},{old_spec}"
    settings.FIELD_ENCRYPTION_KEYS = new_spec
    out = io.StringIO()
    call_command("rotate_keys", stdout=out)
    assert "identity.Resident.my_number: 3 re-encrypted" in out.getvalue()

    with connection.cursor() as cursor:
        cursor.execute("SELECT my_number FROM identity_resident")
        assert {row[0].split("$")[1] for row in cursor.fetchall()} == {"knew"}
    # The old key can go: every value reads under the new key alone.
    settings.FIELD_ENCRYPTION_KEYS = new_spec.split(",")[0]
    for resident in residents:
        assert Resident.objects.get(pk=resident.pk).my_number == resident.my_number

    again = io.StringIO()
    call_command("rotate_keys", stdout=again)
    assert "identity.Resident.my_number: 0 re-encrypted" in again.getvalue()


def test_new_key_option_prints_a_usable_entry():
    out = io.StringIO()
    call_command("rotate_keys", "--new-key", stdout=out)
    FieldCipher.from_spec(out.getvalue().strip())
