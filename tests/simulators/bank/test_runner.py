"""The bank as a real HTTP server on a free port, as the portal's end-to-end test will start it."""

from __future__ import annotations

from pathlib import Path

import httpx

from simulators.bank import Settings, running_bank


def test_running_bank_serves_on_a_free_port_with_its_own_redirect_uri(tmp_path: Path):
    settings = Settings(
        portal_url="http://127.0.0.1:9",  # nothing listens there; these pages do not need the portal
        data_dir=tmp_path / "bank",
        key_file=tmp_path / "keys" / "sakura-bank.pem",
        jwks_file=tmp_path / "keys" / "sakura-bank.jwks.json",
    )

    with running_bank(settings) as bank:
        assert httpx.get(f"{bank.url}/healthz").json() == {"status": "ok"}
        page = httpx.get(f"{bank.url}/")
        jwks = httpx.get(f"{bank.url}/.well-known/jwks.json").json()

    assert bank.settings.redirect_uri == f"{bank.url}/callback"
    assert bank.settings.callback_url == f"{bank.url}/consent-events"
    assert "住宅ローンの事前審査" in page.text and bank.settings.redirect_uri in page.text
    assert [key["kid"] for key in jwks["keys"]] == ["sakura-1"]
