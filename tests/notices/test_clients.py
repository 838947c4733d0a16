"""Staff register agency clients: public keys that work, an agency of the registry, a long webhook secret."""

import json

import pytest
from django.core.management import CommandError, call_command
from joserfc.jwk import ECKey

from notices.models import AgencyClient
from tests.notices.conftest import public_jwks

pytestmark = pytest.mark.django_db

SECRET = "s" * 40


def _form(keys, **changes):
    data = {
        "client_id": "municipal-child-notices",
        "agency_id": "municipal-child",
        "name": "子育て支援課",
        "jwks": json.dumps(keys),
        "webhook_url": "http://127.0.0.1:8001/hooks/portal",
        "webhook_secret": SECRET,
        "active": "on",
    }
    data.update(changes)
    return data


def test_staff_register_a_client_in_the_admin(admin_client, agency_key):
    response = admin_client.post(
        "/staff/admin/notices/agencyclient/add/", _form(public_jwks(agency_key, "k1", "ES256"))
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    client = AgencyClient.objects.get()
    assert client.webhook_secret == SECRET and client.agency_id == "municipal-child"
    page = admin_client.get(f"/staff/admin/notices/agencyclient/{client.pk}/change/").content.decode()
    assert SECRET not in page  # the secret is never shown again


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"jwks": json.dumps({"keys": []})}, "jwks"),
        (
            {
                "jwks": json.dumps(
                    {"keys": [{"kty": "EC", "kid": "x", "crv": "P-256", "x": "bad", "y": "bad"}]}
                )
            },
            "jwks",
        ),
        ({"agency_id": "no-such-agency"}, "agency_id"),
        ({"webhook_secret": "short"}, "webhook_secret"),
    ],
)
def test_bad_registrations_are_refused(admin_client, agency_key, changes, field):
    response = admin_client.post(
        "/staff/admin/notices/agencyclient/add/", _form(public_jwks(agency_key, "k1", "ES256"), **changes)
    )
    assert response.status_code == 200 and field in response.context["adminform"].form.errors
    assert not AgencyClient.objects.exists()


def test_a_private_key_is_refused(admin_client):
    private = ECKey.generate_key("P-256", private=True)
    jwks = {"keys": [{**private.as_dict(private=True), "kid": "k1"}]}
    response = admin_client.post("/staff/admin/notices/agencyclient/add/", _form(jwks))
    assert "private key" in str(response.context["adminform"].form.errors["jwks"])
    assert not AgencyClient.objects.exists()


def test_command_registers_and_updates(tmp_path, agency_key):
    jwks_file, secret_file = tmp_path / "jwks.json", tmp_path / "secret"
    jwks_file.write_text(json.dumps(public_jwks(agency_key, "k1", "ES256")))
    secret_file.write_text(SECRET + "\n")
    args = ["--client-id", "c1", "--agency", "municipal-child", "--name", "n", "--jwks-file", str(jwks_file)]
    call_command("agency_client_register", *args, "--webhook-url", "http://127.0.0.1:8001/h",
                 "--webhook-secret-file", str(secret_file))  # fmt: skip
    call_command("agency_client_register", *args, "--webhook-url", "http://127.0.0.1:8001/h2")
    client = AgencyClient.objects.get()
    assert client.webhook_url.endswith("/h2") and client.webhook_secret == SECRET
    with pytest.raises(CommandError):
        call_command("agency_client_register", *args[:3], "nowhere", *args[4:])
