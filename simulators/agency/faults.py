"""Injected faults per agency: latency, random 500s and outages (503 with Retry-After).

Settings live in the database so every worker process applies the same ones; an agency without an
override runs on the environment's defaults. Latency must only ever be awaited (asyncio.sleep), never
slept in a thread, so one process keeps serving other requests while an agency is slow.
"""

from __future__ import annotations

import asyncio
import random

from starlette.concurrency import run_in_threadpool

from .config import DEFAULT_RETRY_AFTER_S, Settings
from .errors import ApiError
from .store import FaultRow, Store


class FaultInjector:
    def __init__(self, settings: Settings, store: Store, rng: random.Random | None = None) -> None:
        self._settings = settings
        self._store = store
        self._rng = rng or random.Random()

    def defaults(self) -> FaultRow:
        return FaultRow(
            latency_ms=self._settings.default_latency_ms,
            error_rate=self._settings.default_error_rate,
            outage=False,
            retry_after_s=DEFAULT_RETRY_AFTER_S,
        )

    def current(self, agency_id: str) -> tuple[FaultRow, bool]:
        """The settings in force and whether they are an override (True) or the defaults (False)."""
        override = self._store.faults(agency_id)
        return (override, True) if override is not None else (self.defaults(), False)

    async def apply(self, agency_id: str) -> None:
        """Delay, then refuse as configured; returns normally when the agency should answer."""
        faults, _ = await run_in_threadpool(self.current, agency_id)
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.outage:
            raise ApiError(
                503,
                "agency_unavailable",
                f"Agency '{agency_id}' is temporarily unavailable (simulated outage).",
                {"Retry-After": str(faults.retry_after_s)},
            )
        if faults.error_rate > 0 and self._rng.random() < faults.error_rate:
            raise ApiError(500, "injected_error", f"Agency '{agency_id}' failed (simulated internal error).")
