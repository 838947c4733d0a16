"""One approval, start to end: fetch the request, unlock the card, sign, post, and classify the outcome.

Shared by the web form, the JSON endpoint and the ``sign`` CLI so that all three behave the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from simulators.cardapp.card import CardStore
from simulators.cardapp.client import PortalClient
from simulators.cardapp.errors import CardError, PortalRefused, RequestError, SigningError
from simulators.cardapp.request import SigningRequest

Status = Literal["accepted", "refused", "card-error", "request-error"]

#: CLI exit codes (0/1/2 are the contract's; 3 is for a request or portal that could not be used).
EXIT_CODES: dict[str, int] = {"accepted": 0, "refused": 1, "card-error": 2, "request-error": 3}


class WrongSecretKind(CardError):
    code = "wrong_secret_kind"


@dataclass
class Outcome:
    status: Status
    code: str
    message: dict[str, str]
    request: SigningRequest | None = None
    portal: dict[str, Any] = field(default_factory=dict)
    jws: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message, "portal": self.portal}


def _from_error(error: SigningError, request: SigningRequest | None) -> Outcome:
    if isinstance(error, CardError):
        status: Status = "card-error"
    elif isinstance(error, PortalRefused):
        status = "refused"
    else:
        status = "request-error"
    code = (error.error or error.code) if isinstance(error, PortalRefused) else error.code
    return Outcome(status=status, code=code, message=dict(error.message), request=request)


def check_secret_kind(request: SigningRequest, secret_kind: str | None) -> None:
    """For the CLI: ``--pin`` unlocks the auth certificate, ``--password`` the signature certificate."""
    needed = "pin" if request.certificate == "auth" else "password"
    if secret_kind is not None and secret_kind != needed:
        if needed == "pin":
            raise WrongSecretKind(
                "この要求には利用者証明用電子証明書の暗証番号（4桁）が必要です（--pin）。",
                "This request needs the user-authentication PIN (4 digits, --pin).",
            )
        raise WrongSecretKind(
            "この要求には署名用電子証明書のパスワードが必要です（--password）。",
            "This request needs the signature certificate's password (--password).",
        )


def approve(
    store: CardStore,
    client: PortalClient,
    request_url: str,
    card_id: str,
    secret: str,
    *,
    expected_summary_sha256: str | None = None,
    secret_kind: str | None = None,
    now: dt.datetime | None = None,
) -> Outcome:
    """Run one approval and say how it ended; never raises a SigningError."""
    request: SigningRequest | None = None
    try:
        request = client.fetch_request(request_url)
        # The form shows the summary, then the request is fetched again on submit: refuse if it changed.
        if expected_summary_sha256 is not None and expected_summary_sha256 != request.summary_sha256:
            raise RequestError(
                "表示した内容と要求の内容が変わっています。最初からやり直してください。",
                "The request changed after it was shown. Start again.",
            )
        check_secret_kind(request, secret_kind)
        jws = store.get(card_id).sign(request, secret, now=now)
        portal = client.post_signature(request, jws)
    except SigningError as error:
        return _from_error(error, request)
    return Outcome(
        status="accepted",
        code="accepted",
        message={
            "ja": "ポータルが受け付けました。ポータルの画面に戻ってください。",
            "en": "The portal accepted it. Go back to the portal's page.",
        },
        request=request,
        portal=portal,
        jws=jws,
    )
