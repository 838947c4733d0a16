"""What can go wrong in the bank's flow, each with a stable code and a message in Japanese and English.

A ``BankProblem`` is what the pages show; it never carries a trace or a token, only what the portal said
(its error code and description) where that helps the reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# code -> (Japanese, English, HTTP status of the bank's own page)
MESSAGES: dict[str, tuple[str, str, int]] = {
    "portal_unreachable": (
        "マイナポータルに接続できませんでした。しばらくしてからもう一度お試しください。",
        "The portal could not be reached. Please try again in a moment.",
        502,
    ),
    "portal_metadata_invalid": (
        "マイナポータルの設定情報（discovery）が読み取れませんでした。",
        "The portal's discovery document could not be used.",
        502,
    ),
    "par_refused": (
        "マイナポータルが照会の申し込みを受け付けませんでした。",
        "The portal refused the pushed authorization request.",
        502,
    ),
    "csrf": (
        "フォームの有効期限が切れたか、このサイトからの送信ではありません。ページを開き直してください。",
        "The form expired or was not sent from this site. Reload the page and try again.",
        403,
    ),
    "application_missing": (
        "このブラウザでのお申し込みが見つかりません。最初からやり直してください。",
        "No application was started in this browser. Please start again.",
        400,
    ),
    "state_mismatch": (
        "マイナポータルからの戻りがこのお申し込みのものではありません（state が一致しません）。"
        "最初からやり直してください。",
        "The answer from the portal does not belong to this application (state mismatch). "
        "Please start again.",
        400,
    ),
    "issuer_mismatch": (
        "応答の発行元（iss）がマイナポータルと一致しないため、受け付けませんでした。",
        "The answer's issuer (iss) is not the portal, so it was refused.",
        400,
    ),
    "access_denied": (
        "ご本人が情報の提供に同意されなかったため、事前審査を進められません。",
        "The applicant did not agree to share the information, so the pre-screening cannot go on.",
        200,
    ),
    "authorization_failed": (
        "マイナポータルで手続きが完了しませんでした。",
        "The portal did not complete the authorization.",
        400,
    ),
    "code_missing": (
        "マイナポータルからの戻りに認可コードがありません。",
        "The answer from the portal carries no authorization code.",
        400,
    ),
    "token_refused": (
        "マイナポータルがアクセストークンを発行しませんでした。最初からやり直してください。",
        "The portal did not issue an access token. Please start again.",
        502,
    ),
    "id_token_invalid": (
        "マイナポータルの ID トークンを検証できませんでした。",
        "The portal's ID token could not be verified.",
        502,
    ),
    "token_rejected": (
        "マイナポータルがこのアクセスを拒否しました。ご本人が同意を取り消したか、同意が終了しています。",
        "The portal refused this access: the applicant revoked the consent, or it has ended.",
        200,
    ),
    "token_expired": (
        "アクセストークンの有効期限が切れました。もう一度お申し込みください。",
        "The access token has expired. Please apply again.",
        200,
    ),
    "insufficient_scope": (
        "同意された範囲にない情報です。",
        "That information is not within the consent.",
        200,
    ),
    "rate_limited": (
        "照会が多すぎます。しばらく待ってからもう一度お試しください。",
        "Too many requests. Please wait a moment and try again.",
        200,
    ),
    "resource_failed": (
        "マイナポータルから情報を受け取れませんでした。",
        "The information could not be read from the portal.",
        502,
    ),
    "not_ready": (
        "まだ照会していません。",
        "Nothing has been read yet.",
        400,
    ),
}


@dataclass
class BankProblem(Exception):
    """A refusal or failure the applicant should read."""

    code: str
    detail: str = ""  # what the portal said (its error code and description), when it said something
    retry_after: int | None = None

    @property
    def ja(self) -> str:
        return MESSAGES[self.code][0]

    @property
    def en(self) -> str:
        return MESSAGES[self.code][1]

    @property
    def status_code(self) -> int:
        return MESSAGES[self.code][2]

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, "retry_after": self.retry_after}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> BankProblem:
        return cls(value["code"], value.get("detail", ""), value.get("retry_after"))
