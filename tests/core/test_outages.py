"""While Redis (cache and broker) is down: sessions carry on from the database, health says not ready,
what needs the cache to stay safe refuses with a 503 that says why, never a 500."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from portal.celery import app as celery_app
from portal.core.outages import broker_reachable
from portal.core.sessions import SessionStore
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db

UNAVAILABLE_JA = "ただいまシステムの一部が停止しているため、お手続きできません。"
UNAVAILABLE_EN = "Part of the system is down at the moment, so this cannot be done."


@pytest.fixture
def resident_browser() -> Client:
    client = Client()
    client.force_login(ResidentFactory().user, backend="portal.identity.backends.PortalBackend")
    return client


def test_a_logged_in_resident_stays_logged_in_while_the_cache_is_down(resident_browser, stop_shared_cache):
    stop_shared_cache()
    page = resident_browser.get("/")
    assert page.status_code == 200
    assert 'id="logout"' in page.content.decode()  # the session was read from the database


def test_logging_out_while_the_cache_is_down_ends_the_session(resident_browser, stop_shared_cache):
    session_key = resident_browser.session.session_key
    stop_shared_cache()
    response = resident_browser.post("/logout/")
    assert response.status_code == 200
    assert not Session.objects.filter(session_key=session_key).exists()
    assert 'id="logout"' not in resident_browser.get("/").content.decode()


def test_sessions_are_made_and_read_from_the_database_alone_while_the_cache_is_down(stop_shared_cache):
    stop_shared_cache()
    store = SessionStore()
    store["seen"] = 1
    store.save()  # a new key: its uniqueness is checked in the database
    assert SessionStore(store.session_key).load() == {"seen": 1}
    assert store.exists(store.session_key)
    store.delete()
    assert not Session.objects.filter(session_key=store.session_key).exists()


def test_what_needs_the_cache_to_be_safe_refuses_with_a_503_that_says_why(stop_shared_cache):
    stop_shared_cache()
    # The login page is rate limited in the shared cache; without it the limit cannot be kept.
    page = Client().get("/login/")
    assert page.status_code == 503
    body = page.content.decode()
    assert 'data-code="temporarily_unavailable"' in body and UNAVAILABLE_JA in body
    english = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 503
    assert f'<p class="notice__primary" lang="en">{UNAVAILABLE_EN}' in english.content.decode()
    as_json = Client().get("/login/", HTTP_ACCEPT="application/json")
    assert as_json.status_code == 503 and as_json.json()["error"] == "temporarily_unavailable"


def test_readyz_says_not_ready_when_the_cache_is_down_even_for_a_logged_in_browser(
    resident_browser, stop_shared_cache
):
    stop_shared_cache()
    response = resident_browser.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "unavailable", "broker": "ok"}


def test_broker_reachable_says_whether_work_can_be_queued(monkeypatch):
    assert broker_reachable() is True
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:9/0")
    assert broker_reachable() is False
