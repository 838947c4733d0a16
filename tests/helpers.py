"""Test helpers that walk the card flows through the Django test client, as the card app would."""

import re
from typing import Any
from urllib.parse import urlparse

from django.test import Client

from tests.conftest import Jpki

PASSWORD = "ABC123"
PIN = "1234"


def signing_description(client: Client, request_id: str) -> dict[str, Any]:
    response = client.get(f"/signing/{request_id}/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def card_answer(client: Client, jpki: Jpki, request_id: str, card_id: str, secret: str) -> Any:
    """Signs the request with the card and posts the JWS, as the card app does; returns the response."""
    description = signing_description(client, request_id)
    jws = jpki.cards.get(card_id).sign(description, secret)
    path = urlparse(description["response_url"]).path
    return Client().post(path, data={"jws": jws}, content_type="application/json")


def request_id_from(response) -> str:
    return str(response.context["signing_request"].id)


def start_login(client: Client) -> str:
    response = client.get("/login/")
    assert response.status_code == 200
    return request_id_from(response)


def login_with_card(client: Client, jpki: Jpki, card_id: str, *, pin: str = PIN, password: str = PASSWORD):
    """Full QR flow: login with the auth certificate, and the user folder on first login."""
    request_id = start_login(client)
    answer = card_answer(client, jpki, request_id, card_id, pin)
    assert answer.status_code == 200, answer.content
    response = client.post(f"/login/{request_id}/complete/")
    if response.status_code == 302 and "/login/register/" in response["Location"]:
        register_id = re.search(r"/login/register/([0-9a-f-]+)/", response["Location"]).group(1)
        client.get(response["Location"])
        answer = card_answer(client, jpki, register_id, card_id, password)
        assert answer.status_code == 200, answer.content
        response = client.post(f"/login/register/{register_id}/")
    assert response.status_code == 302 and response["Location"] == "/", response
    return response
