"""Settings of the agency simulator, read from environment variables only (12-factor).

Defaults are the contract's paths relative to the repository root. This module must never read files or
touch the database: it only describes where things are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# simulators/agency/config.py -> the repository root is two folders above the package.
REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8001"
DEFAULT_CONTROL_TOKEN = "demo-control-token"  # noqa: S105 - a demo default, documented as such
DEFAULT_SEED = 2026

#: The only client the agencies know: the portal, which signs its assertions as this issuer/subject.
CLIENT_ID = "myna-portal"
#: The contract caps an assertion's lifetime (exp - iat).
MAX_ASSERTION_LIFETIME_S = 300
#: Tolerated clock difference between the portal and the simulator.
CLOCK_SKEW_LEEWAY_S = 30
#: Sent with 503 outage answers unless a control request set another value.
DEFAULT_RETRY_AFTER_S = 30


def _float_in_unit_interval(name: str, raw: str | None, default: float) -> float:
    value = float(raw) if raw not in (None, "") else default
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")
    return value


def _non_negative_int(name: str, raw: str | None, default: int) -> int:
    value = int(raw) if raw not in (None, "") else default
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """Where the simulator keeps its state, whom it trusts and how it misbehaves by default."""

    data_dir: Path = field(default_factory=lambda: REPO_ROOT / "var" / "agency")
    people_file: Path = field(default_factory=lambda: REPO_ROOT / "demo" / "people.json")
    agencies_file: Path = field(default_factory=lambda: REPO_ROOT / "demo" / "agencies.json")
    client_jwks_file: Path = field(
        default_factory=lambda: REPO_ROOT / "var" / "keys" / "agency-client.jwks.json"
    )
    public_url: str = DEFAULT_PUBLIC_URL
    control_token: str = DEFAULT_CONTROL_TOKEN
    seed: int = DEFAULT_SEED
    default_latency_ms: int = 0
    default_error_rate: float = 0.0

    @property
    def db_path(self) -> Path:
        return self.data_dir / "agency.sqlite3"

    def audience_for(self, agency_id: str) -> str:
        """The ``aud`` an assertion for ``agency_id`` must carry: this simulator's own URL for the agency."""
        return f"{self.public_url.rstrip('/')}/agencies/{agency_id}"

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            data_dir=Path(env.get("AGENCY_SIM_DATA_DIR") or REPO_ROOT / "var" / "agency"),
            people_file=Path(env.get("DEMO_PEOPLE") or REPO_ROOT / "demo" / "people.json"),
            agencies_file=Path(env.get("DEMO_AGENCIES") or REPO_ROOT / "demo" / "agencies.json"),
            client_jwks_file=Path(
                env.get("AGENCY_SIM_CLIENT_JWKS") or REPO_ROOT / "var" / "keys" / "agency-client.jwks.json"
            ),
            public_url=(env.get("AGENCY_SIM_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/"),
            control_token=env.get("AGENCY_SIM_CONTROL_TOKEN") or DEFAULT_CONTROL_TOKEN,
            seed=int(env.get("AGENCY_SIM_SEED") or DEFAULT_SEED),
            default_latency_ms=_non_negative_int(
                "AGENCY_SIM_LATENCY_MS", env.get("AGENCY_SIM_LATENCY_MS"), 0
            ),
            default_error_rate=_float_in_unit_interval(
                "AGENCY_SIM_ERROR_RATE", env.get("AGENCY_SIM_ERROR_RATE"), 0.0
            ),
        )
