"""Configuration of the card app, from environment variables only (with the contract's defaults)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# simulators/cardapp/config.py -> the repository root is two folders above the package.
REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_ALLOWED_ORIGINS = "http://127.0.0.1:8000,http://localhost:8000"


def _split_origins(value: str) -> tuple[str, ...]:
    return tuple(origin.strip().rstrip("/").lower() for origin in value.split(",") if origin.strip())


@dataclass(frozen=True)
class Settings:
    """Where the card app keeps its state and whom it will talk to."""

    data_dir: Path = field(default_factory=lambda: REPO_ROOT / "var" / "cardapp")
    ca_dir: Path = field(default_factory=lambda: REPO_ROOT / "var" / "ca")
    people_file: Path = field(default_factory=lambda: REPO_ROOT / "demo" / "people.json")
    allowed_origins: tuple[str, ...] = _split_origins(DEFAULT_ALLOWED_ORIGINS)
    crl_url: str | None = None
    http_timeout: float = 10.0

    @property
    def db_path(self) -> Path:
        return self.data_dir / "cards.sqlite3"

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            data_dir=Path(env.get("CARDAPP_DATA_DIR") or REPO_ROOT / "var" / "cardapp"),
            ca_dir=Path(env.get("CA_DATA_DIR") or REPO_ROOT / "var" / "ca"),
            people_file=Path(env.get("DEMO_PEOPLE") or REPO_ROOT / "demo" / "people.json"),
            allowed_origins=_split_origins(env.get("CARDAPP_ALLOWED_ORIGINS") or DEFAULT_ALLOWED_ORIGINS),
            crl_url=env.get("CA_CRL_URL") or None,
            http_timeout=float(env.get("CARDAPP_HTTP_TIMEOUT") or 10.0),
        )
