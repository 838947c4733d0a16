"""The signing request the portal serves (docs/contracts.md, "A signing request"), parsed and checked."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from simulators.cardapp.errors import RequestError

KINDS = {"login", "register", "stepup", "child"}
CERTIFICATES = {"auth", "signature"}
# What the card's text application (券面事項入力補助AP) gives out: the My Number and the four basic facts.
READABLE_ATTRIBUTES = frozenset({"my_number", "name", "birth_date", "sex", "address"})
ATTRIBUTES_BY_KIND = {"register": frozenset({"my_number"}), "child": READABLE_ATTRIBUTES}


def summary_digest(summary_ja: str, summary_en: str) -> str:
    """Hex SHA-256 of ``summary.ja + "\\n" + summary.en`` (UTF-8), as the contract defines."""
    return hashlib.sha256(f"{summary_ja}\n{summary_en}".encode()).hexdigest()


def _malformed(reason_ja: str, reason_en: str) -> RequestError:
    return RequestError(
        f"ポータルからの要求の形式が正しくありません（{reason_ja}）。",
        f"The portal's request is malformed ({reason_en}).",
    )


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise _malformed(f"「{key}」がありません", f"{key!r} missing or not a string")
    return value


@dataclass(frozen=True)
class SigningRequest:
    id: str
    kind: str
    certificate: str
    nonce: str
    requester: str
    summary_ja: str
    summary_en: str
    summary_sha256: str
    attributes_requested: tuple[str, ...]
    response_url: str
    expires_at: dt.datetime

    @classmethod
    def parse(cls, data: object) -> SigningRequest:
        """Check every field; raises RequestError with a bilingual reason otherwise.

        The summary digest is recomputed so the card never signs a hash of text other than the one shown.
        """
        if not isinstance(data, dict):
            raise _malformed("JSONオブジェクトではありません", "not a JSON object")
        kind = _text(data, "kind")
        if kind not in KINDS:
            raise _malformed("種類が不明です", f"unknown kind {kind!r}")
        certificate = _text(data, "certificate")
        if certificate not in CERTIFICATES:
            raise _malformed("証明書の種類が不明です", f"unknown certificate {certificate!r}")
        summary = data.get("summary")
        if not isinstance(summary, dict) or not all(isinstance(summary.get(k), str) for k in ("ja", "en")):
            raise _malformed("説明文がありません", "summary.ja / summary.en missing")
        digest = _text(data, "summary_sha256").lower()
        if digest != summary_digest(summary["ja"], summary["en"]):
            raise _malformed("説明文のハッシュ値が一致しません", "summary_sha256 does not match the summary")
        attributes = data.get("attributes_requested", [])
        if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
            raise _malformed("属性の指定が不正です", "attributes_requested is not a list of strings")
        # Reading the card's text is part of opening a user folder only (one's own, or a child's by the
        # parent); refuse it anywhere else.
        if attributes and kind not in ATTRIBUTES_BY_KIND:
            raise _malformed(
                "利用者登録以外でマイナンバーの読み取りが要求されています",
                "attributes are requested for a kind other than register",
            )
        unknown = set(attributes) - ATTRIBUTES_BY_KIND.get(kind, frozenset())
        if unknown:
            raise _malformed("読み取れない属性が要求されています", f"unknown attributes {sorted(unknown)}")
        try:
            expires_at = dt.datetime.fromisoformat(_text(data, "expires_at"))
        except ValueError:
            raise _malformed("有効期限の形式が不正です", "expires_at is not an ISO 8601 date-time") from None
        if expires_at.tzinfo is None:
            raise _malformed("有効期限にタイムゾーンがありません", "expires_at has no time zone")
        return cls(
            id=_text(data, "id"),
            kind=kind,
            certificate=certificate,
            nonce=_text(data, "nonce"),
            requester=_text(data, "requester"),
            summary_ja=summary["ja"],
            summary_en=summary["en"],
            summary_sha256=digest,
            attributes_requested=tuple(attributes),
            response_url=_text(data, "response_url"),
            expires_at=expires_at,
        )

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return (now or dt.datetime.now(dt.UTC)) >= self.expires_at
