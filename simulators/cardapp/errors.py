"""Errors of the card app, each with a stable code and a message in Japanese and English.

``CardError`` is what the card itself refuses (wrong PIN, locked, no such certificate, expired request):
the CLI exits 2 on it. ``RequestError`` is about the signing request or the portal (bad origin, malformed
JSON, unreachable portal): the CLI exits 3. ``PortalRefused`` carries the portal's own message: exit 1.
"""

from __future__ import annotations

from typing import ClassVar

CERT_NAMES = {
    "auth": ("利用者証明用電子証明書", "user-authentication certificate"),
    "signature": ("署名用電子証明書", "signature certificate"),
}
SECRET_NAMES = {"auth": ("暗証番号", "PIN"), "signature": ("パスワード", "password")}


class SigningError(Exception):
    """Base class: something stopped the signature. ``message`` is ``{"ja": ..., "en": ...}``."""

    code: ClassVar[str] = "error"

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.message = {"ja": ja, "en": en}

    def text(self) -> str:
        return f"{self.message['ja']}\n{self.message['en']}"


class CardError(SigningError):
    """The card refused; nothing was sent to the portal."""

    code = "card_error"


class UnknownCard(CardError):
    code = "unknown_card"

    def __init__(self, card_id: str) -> None:
        super().__init__(
            f"カード「{card_id}」はこのアプリに登録されていません。",
            f"There is no card {card_id!r} in this app.",
        )


class InvalidSecretFormat(CardError):
    """Malformed input is refused before it reaches the card, so it costs no try."""

    code = "invalid_secret_format"


class WrongSecret(CardError):
    code = "wrong_secret"

    def __init__(self, certificate: str, tries_left: int) -> None:
        cert_ja, cert_en = CERT_NAMES[certificate]
        secret_ja, secret_en = SECRET_NAMES[certificate]
        super().__init__(
            f"{secret_ja}が違います。{cert_ja}の残り試行回数は{tries_left}回です。"
            f"あと{tries_left}回間違えるとロックされます。",
            f"Wrong {secret_en}. {tries_left} {'try' if tries_left == 1 else 'tries'} left on the "
            f"{cert_en}; it locks after {tries_left} more wrong "
            f"{'entry' if tries_left == 1 else 'entries'}.",
        )
        self.tries_left = tries_left


class CardLocked(CardError):
    code = "card_locked"

    def __init__(self, certificate: str) -> None:
        cert_ja, cert_en = CERT_NAMES[certificate]
        secret_ja, secret_en = SECRET_NAMES[certificate]
        super().__init__(
            f"{secret_ja}を続けて間違えたため、このカードの{cert_ja}はロックされています。"
            "お住まいの市区町村の窓口でロックの解除（初期化）を受けてください。",
            f"This card's {cert_en} is locked after too many wrong {secret_en} entries. "
            "Have it reset at your municipal office.",
        )
        self.certificate = certificate


class NoSignatureCertificate(CardError):
    code = "no_signature_certificate"

    def __init__(self) -> None:
        super().__init__(
            "このカードには署名用電子証明書がありません（15歳未満の方のカードなど）。",
            "This card has no signature certificate (for example, the card of a child under 15).",
        )


class RequestExpired(CardError):
    code = "request_expired"

    def __init__(self) -> None:
        super().__init__(
            "この要求は有効期限が切れています。ポータルの画面からやり直してください。",
            "This request has expired. Start again from the portal.",
        )


class RequestError(SigningError):
    """The request could not be fetched, was not allowed, or was malformed; or the portal was unreachable."""

    code = "request_error"


class PortalUnreachable(RequestError):
    code = "portal_unreachable"


class PortalRefused(SigningError):
    """The portal answered 4xx; ``message`` is the portal's own message, shown as it is."""

    code = "refused"

    def __init__(self, status: int, error: str, ja: str, en: str) -> None:
        super().__init__(ja, en)
        self.status = status
        self.error = error
