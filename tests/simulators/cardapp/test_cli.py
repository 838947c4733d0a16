"""The command line, run as a real subprocess against a fake portal over HTTP (end to end)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cryptography import x509

from simulators.cardapp import CardStore, Settings
from simulators.cardapp.config import REPO_ROOT
from tests.simulators.cardapp.conftest import FakePortal
from tests.simulators.cardapp.helpers import verify_jws


def run_cli(settings: Settings, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CARDAPP_DATA_DIR": str(settings.data_dir),
        "CA_DATA_DIR": str(settings.ca_dir),
        "DEMO_PEOPLE": str(settings.people_file),
        "CARDAPP_ALLOWED_ORIGINS": ",".join(settings.allowed_origins),
    }
    return subprocess.run(
        [sys.executable, "-m", "simulators.cardapp", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_sign_end_to_end_accepted(settings: Settings, fake_portal: FakePortal) -> None:
    request = fake_portal.set_request()
    result = run_cli(settings, "sign", fake_portal.request_url, "--card", "yamada-hanako", "--pin", "1234")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "accepted"}
    assert len(fake_portal.received) == 1 and set(fake_portal.received[0]) == {"jws"}
    header, payload, certificate = verify_jws(fake_portal.received[0]["jws"])
    assert header["alg"] == "RS256" and header["typ"] == "jpki-sig"
    assert payload["req"] == request["id"] and payload["nonce"] == request["nonce"]
    assert payload["summary_sha256"] == request["summary_sha256"] and payload["attrs"] == {}
    assert certificate == CardStore(settings.db_path).get("yamada-hanako").auth_certificate


def test_sign_register_with_password_reads_my_number(settings: Settings, fake_portal: FakePortal) -> None:
    fake_portal.set_request(kind="register", certificate="signature", attributes_requested=["my_number"])
    result = run_cli(
        settings, "sign", fake_portal.request_url, "--card", "yamada-hanako", "--password", "ABC123"
    )
    assert result.returncode == 0, result.stderr
    _, payload, _ = verify_jws(fake_portal.received[0]["jws"])
    assert payload["attrs"] == {"my_number": "526018159084"}


def test_sign_refused_by_the_portal_exits_1(settings: Settings, fake_portal: FakePortal) -> None:
    fake_portal.answer_status = 403
    fake_portal.answer = {"error": "revoked", "message": {"ja": "証明書は失効しています。", "en": "Revoked."}}
    result = run_cli(settings, "sign", fake_portal.request_url, "--card", "takahashi-ken", "--pin", "1234")
    assert result.returncode == 1
    assert "証明書は失効しています。" in result.stderr and "Revoked." in result.stderr
    assert len(fake_portal.received) == 1


def test_wrong_pin_exits_2_and_never_reaches_the_portal(settings: Settings, fake_portal: FakePortal) -> None:
    result = run_cli(settings, "sign", fake_portal.request_url, "--card", "yamada-hanako", "--pin", "9999")
    assert result.returncode == 2
    assert "残り試行回数は2回" in result.stderr and "2 tries left" in result.stderr
    assert fake_portal.received == []


def test_card_errors_exit_2(settings: Settings, fake_portal: FakePortal) -> None:
    cases = [
        (["--card", "nobody", "--pin", "1234"], "no card 'nobody'"),
        (["--card", "yamada-hanako", "--pin", "12a4"], "4 digits"),
        (["--card", "yamada-hanako", "--password", "ABC123"], "--pin"),
    ]
    for args, expected in cases:
        result = run_cli(settings, "sign", fake_portal.request_url, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr
    fake_portal.set_request(kind="stepup", certificate="signature")
    result = run_cli(
        settings, "sign", fake_portal.request_url, "--card", "sato-haruto", "--password", "ABC123"
    )
    assert result.returncode == 2 and "no signature certificate" in result.stderr
    assert fake_portal.received == []


def test_request_problems_exit_3(settings: Settings, fake_portal: FakePortal) -> None:
    result = run_cli(
        settings, "sign", "http://127.0.0.1:1/signing/1/", "--card", "yamada-hanako", "--pin", "1234"
    )
    assert result.returncode == 3 and "not a portal this app is allowed to contact" in result.stderr
    fake_portal.raw_request = b"{not json"
    result = run_cli(settings, "sign", fake_portal.request_url, "--card", "yamada-hanako", "--pin", "1234")
    assert result.returncode == 3 and "not JSON" in result.stderr and "JSONではありません" in result.stderr


def test_reset_lock(settings: Settings, fake_portal: FakePortal) -> None:
    for _ in range(3):
        run_cli(settings, "sign", fake_portal.request_url, "--card", "yamada-hanako", "--pin", "0000")
    assert CardStore(settings.db_path).get("yamada-hanako").auth_locked
    locked = run_cli(settings, "sign", fake_portal.request_url, "--card", "yamada-hanako", "--pin", "1234")
    assert locked.returncode == 2 and "municipal office" in locked.stderr and "窓口" in locked.stderr
    assert run_cli(settings, "reset-lock", "--card", "yamada-hanako").returncode == 0
    assert not CardStore(settings.db_path).get("yamada-hanako").auth_locked
    assert run_cli(settings, "reset-lock", "--card", "nobody").returncode == 2


def test_init_is_fast_idempotent_and_revokes(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "cards", ca_dir=tmp_path / "ca", people_file=REPO_ROOT / "demo" / "people.json"
    )
    started = time.monotonic()
    first = run_cli(settings, "init")
    assert first.returncode == 0, first.stderr
    assert time.monotonic() - started < 20
    assert "8 issued" in first.stdout
    store = CardStore(settings.db_path)
    before = {card.id: card.auth_certificate for card in store.all()}
    assert len(before) == 8
    second = run_cli(settings, "init")
    assert second.returncode == 0 and "0 issued, 8 kept" in second.stdout
    assert {card.id: card.auth_certificate for card in store.all()} == before

    crl = x509.load_der_x509_crl((settings.ca_dir / "crl.der").read_bytes())
    ken = store.get("takahashi-ken")
    assert ken.revoked and ken.signature_certificate is not None
    for certificate in (ken.auth_certificate, ken.signature_certificate):
        assert crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None
    hanako = store.get("yamada-hanako")
    assert crl.get_revoked_certificate_by_serial_number(hanako.auth_certificate.serial_number) is None
    assert len(list(crl)) == 2
    assert store.get("sato-haruto").signature_certificate is None
