"""Settings of the sample bank, from environment variables only (with the demo's defaults).

This module only says where things are and whom the bank talks to; it never reads files or the network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# simulators/bank/config.py -> the repository root is two folders above the package.
REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_PORTAL_URL = "http://127.0.0.1:8000"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8003"
DEFAULT_CLIENT_ID = "sakura-bank"
#: The key id the portal's demo registration expects in the bank's JWKS.
KEY_ID = "sakura-1"
#: What the bank asks for, and the purpose code it declared to the portal for it.
SCOPE = "openid name birth_date address income_tax"
PURPOSE = "mortgage-screening"
INCOME_CATEGORY = "income_tax"


def _var_dir() -> Path:
    # The portal's seed_demo makes the same key pair under its PORTAL_VAR_DIR: follow it when it is set.
    return Path(os.environ.get("PORTAL_VAR_DIR") or REPO_ROOT / "var")


@dataclass(frozen=True)
class Settings:
    """Where the bank keeps its state, which portal it is a client of and how patient it is."""

    portal_url: str = DEFAULT_PORTAL_URL
    public_url: str = DEFAULT_PUBLIC_URL
    client_id: str = DEFAULT_CLIENT_ID
    data_dir: Path = field(default_factory=lambda: _var_dir() / "bank")
    key_file: Path = field(default_factory=lambda: _var_dir() / "keys" / "sakura-bank.pem")
    jwks_file: Path = field(default_factory=lambda: _var_dir() / "keys" / "sakura-bank.jwks.json")
    http_timeout: float = 10.0
    # A 202 from the resource API is retried this many times in one page load, waiting as the portal
    # asks but never longer than ``max_wait_seconds`` each time; after that the page says "please wait".
    resource_retries: int = 3
    max_wait_seconds: float = 5.0

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/callback"

    @property
    def callback_url(self) -> str:
        """Where the portal tells the bank that a consent ended."""
        return f"{self.public_url}/consent-events"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "bank.sqlite3"

    @classmethod
    def from_env(cls, *, public_url: str | None = None) -> Settings:
        env = os.environ
        var_dir = _var_dir()
        return cls(
            portal_url=(env.get("PORTAL_URL") or DEFAULT_PORTAL_URL).rstrip("/"),
            public_url=(env.get("BANK_PUBLIC_URL") or public_url or DEFAULT_PUBLIC_URL).rstrip("/"),
            client_id=env.get("BANK_CLIENT_ID") or DEFAULT_CLIENT_ID,
            data_dir=Path(env.get("BANK_DATA_DIR") or var_dir / "bank"),
            key_file=Path(env.get("BANK_KEY_FILE") or var_dir / "keys" / "sakura-bank.pem"),
            jwks_file=Path(env.get("BANK_JWKS_FILE") or var_dir / "keys" / "sakura-bank.jwks.json"),
            http_timeout=float(env.get("BANK_HTTP_TIMEOUT") or 10.0),
        )
