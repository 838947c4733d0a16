"""Health endpoints, security headers, error pages, the language switch, and the portal's boundaries."""

import ast
from pathlib import Path

import pytest

from portal.celery import app as celery_app

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def test_healthz_answers_without_touching_services(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_the_real_database_cache_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok"},
    }


def test_readyz_says_not_ready_when_the_broker_is_down(client, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:9/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unavailable"
    assert "Error" not in response.content.decode()


def test_pages_carry_strict_security_headers(client):
    response = client.get("/login/")
    csp = response["Content-Security-Policy"]
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["httponly"] and session_cookie["samesite"] == "Lax"


def test_logout_needs_a_post_with_csrf(trusted_jpki):
    from django.test import Client

    from tests.helpers import login_with_card

    logged_in = Client()
    login_with_card(logged_in, trusted_jpki, "yamada-hanako")
    browser = Client(enforce_csrf_checks=True)
    browser.cookies = logged_in.cookies
    assert browser.post("/logout/").status_code == 403
    assert browser.get("/").status_code == 200


def test_unknown_page_is_bilingual_and_plain(client):
    response = client.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "お探しのページは見つかりませんでした。" in body
    assert "The page you were looking for was not found." in body
    assert "Traceback" not in body


def test_language_switch_turns_pages_english(client):
    assert "マイナンバーカードでログイン" in client.get("/login/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    page = client.get("/login/").content.decode()
    assert '<html lang="en">' in page
    assert "Log in with your My Number Card" in page
    assert "Skip to main content" in page


def test_dashboard_needs_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_dashboard_shows_name_and_masked_number_only(client, trusted_jpki):
    from tests.conftest import PEOPLE
    from tests.helpers import login_with_card

    login_with_card(client, trusted_jpki, "yamada-hanako")
    body = client.get("/").content.decode()
    number = PEOPLE["yamada-hanako"]["my_number"]
    assert "山田 花子" in body
    assert number not in body
    assert f"●●●● ●●●● {number[-4:]}" in body
    assert 'id="logout"' in body


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", ["portal", "api"])
def test_portal_never_imports_the_simulators(package):
    """SPEC 6: the simulators stand for other organisations; the portal reaches them over HTTP only."""
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / package).rglob("*.py")
        if any(name.split(".")[0] == "simulators" for name in _imports(path))
    ]
    assert offenders == []


def test_simulators_never_import_the_portal():
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "simulators").rglob("*.py")
        if any(name.split(".")[0] in {"portal", "api", "django"} for name in _imports(path))
    ]
    assert offenders == []


def test_api_docs_work_under_the_content_security_policy(client):
    """Swagger UI's start-up script is served from the portal, not inline, so 'self' suffices."""
    import re

    page = client.get("/api/docs/")
    assert page.status_code == 200
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.content.decode(), flags=re.S)
    assert scripts and all("src=" in attributes and not body.strip() for attributes, body in scripts)
    assert client.get("/api/docs/?script").status_code == 200
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"openapi:" in schema.content
