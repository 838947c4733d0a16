"""The one error type the simulator raises; the app turns it into ``{"error", "message"}`` JSON.

This module must never include request data (tokens, codes) in messages beyond what the caller sent.
"""

from __future__ import annotations


class ApiError(Exception):
    """A refusal with the contract's status code, machine-readable code and English message."""

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}


def unauthorized(error: str, message: str) -> ApiError:
    return ApiError(401, error, message, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
