"""Logging in with the card, opening the user folder, and the "sign this act" step-up (SPEC 4, 2.6).

Every refusal is a PortalError with a message in Japanese and English and is recorded as a security
event; nothing is half made. A step-up signed with anyone's card but the session resident's own ends
that resident's sessions: the desk-terminal case of 2023.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import date as datetime_date
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.core.crypto import lookup_hash
from portal.core.errors import PortalError
from portal.identity import jpki
from portal.identity.models import (
    CardCertificate,
    CertificateKind,
    Resident,
    SecurityEvent,
    SigningKind,
    SigningRequest,
    SigningStatus,
    User,
)
from portal.identity.mynumber import my_number_is_valid

LOGIN_SUMMARY = ("マイナポータルにログインします。", "Log in to Myna Portal.")
# What the card's text application gives for opening a user folder: one's own (with the signature
# certificate's facts), or a child's under 15 by the parent (the child's card has no signature certificate).
CHILD_ATTRIBUTES = ["my_number", "name", "birth_date", "sex", "address"]
ATTRIBUTES_REQUESTED = {"register": ["my_number"], "child": CHILD_ATTRIBUTES}
REGISTER_SUMMARY = (
    "利用者登録（利用者フォルダの開設）のため、署名用電子証明書の基本4情報（氏名・住所・生年月日・性別）と"
    "マイナンバーをマイナポータルに提供します。",
    "To open your user folder, provide Myna Portal with the four basic facts of your signature certificate "
    "(name, address, birth date, sex) and your My Number.",
)


def browser_key_hash(browser_key: str) -> str:
    return hashlib.sha256(browser_key.encode()).hexdigest()


def new_browser_key() -> str:
    return secrets.token_urlsafe(32)


def summary_digest(summary_ja: str, summary_en: str) -> str:
    return hashlib.sha256(f"{summary_ja}\n{summary_en}".encode()).hexdigest()


def act_digest(act: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps({"act": act, "payload": payload}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def security_event_record(
    kind: str, *, resident: Resident | None = None, request: SigningRequest | None = None, **detail: Any
) -> SecurityEvent:
    return SecurityEvent.objects.create(
        kind=kind, resident=resident, signing_request_id=request.id if request else None, detail=detail
    )


def _refusal(code: str, ja: str, en: str, status: int = 400) -> PortalError:
    return PortalError(code=code, message_ja=ja, message_en=en, status=status)


# The refusals of a request that cannot be answered or completed, worded alike wherever they arise.
def _request_unknown() -> PortalError:
    return _refusal("unknown_request", "この要求は見つかりません。", "This request does not exist.", 404)


def _request_used() -> PortalError:
    return _refusal(
        "request_used",
        "この要求はすでに使われています。最初からやり直してください。",
        "This request has already been used. Please start again.",
        409,
    )


def _request_expired() -> PortalError:
    return _refusal(
        "request_expired",
        "この要求の有効期限が切れました。最初からやり直してください。",
        "This request has expired. Please start again.",
        410,
    )


# --- creating requests -------------------------------------------------------------------------------


@transaction.atomic
def signing_request_create(
    *,
    kind: str,
    browser_key: str,
    summary_ja: str,
    summary_en: str,
    resident: Resident | None = None,
    act: str = "",
    act_payload: dict[str, Any] | None = None,
) -> SigningRequest:
    uses_auth = kind in (SigningKind.LOGIN, SigningKind.CHILD)
    certificate = CertificateKind.AUTH if uses_auth else CertificateKind.SIGNATURE
    return SigningRequest.objects.create(
        kind=kind,
        certificate=certificate,
        nonce=secrets.token_urlsafe(32),
        summary_ja=summary_ja,
        summary_en=summary_en,
        act=act,
        act_digest=act_digest(act, act_payload or {}) if act else "",
        browser_key_hash=browser_key_hash(browser_key),
        resident=resident,
        expires_at=timezone.now() + timedelta(seconds=settings.SIGNING_REQUEST_TTL),
    )


def login_start(*, browser_key: str) -> SigningRequest:
    return signing_request_create(
        kind=SigningKind.LOGIN,
        browser_key=browser_key,
        summary_ja=LOGIN_SUMMARY[0],
        summary_en=LOGIN_SUMMARY[1],
    )


def stepup_start(
    *,
    resident: Resident,
    browser_key: str,
    act: str,
    summary_ja: str,
    summary_en: str,
    payload: dict[str, Any],
) -> SigningRequest:
    """Asks the session's resident to sign a readable summary of one act with the signature certificate."""
    return signing_request_create(
        kind=SigningKind.STEPUP,
        browser_key=browser_key,
        summary_ja=summary_ja,
        summary_en=summary_en,
        resident=resident,
        act=act,
        act_payload=payload,
    )


def signing_request_description(*, request: SigningRequest, response_url: str) -> dict[str, Any]:
    """What the card app shows and signs (docs/contracts.md, "A signing request")."""
    return {
        "id": str(request.id),
        "kind": request.kind,
        "certificate": request.certificate,
        "nonce": request.nonce,
        "requester": "マイナポータル",
        "summary": {"ja": request.summary_ja, "en": request.summary_en},
        "summary_sha256": summary_digest(request.summary_ja, request.summary_en),
        "attributes_requested": ATTRIBUTES_REQUESTED.get(request.kind, []),
        "response_url": response_url,
        "expires_at": request.expires_at.isoformat(),
    }


# --- accepting the card's signature ------------------------------------------------------------------


def _check_payload(request: SigningRequest, payload: dict[str, Any]) -> None:
    expected = {
        "req": str(request.id),
        "nonce": request.nonce,
        "kind": request.kind,
        "summary_sha256": summary_digest(request.summary_ja, request.summary_en),
    }
    if any(payload.get(key) != value for key, value in expected.items()):
        raise _refusal(
            "signature_for_other_request",
            "署名の内容がこの要求と一致しません。",
            "What was signed does not match this request.",
        )


def _my_number_unreadable() -> PortalError:
    return _refusal(
        "my_number_unreadable",
        "カードからマイナンバーを正しく読み取れませんでした。もう一度お試しください。",
        "The My Number could not be read correctly from the card. Please try again.",
    )


def _child_card_unreadable() -> PortalError:
    return _refusal(
        "child_card_unreadable",
        "お子様のカードから必要な情報を正しく読み取れませんでした。",
        "The facts needed could not be read correctly from the child's card.",
    )


def _registration_identity(verified: jpki.VerifiedSignature) -> dict[str, Any]:
    identity = verified.identity()
    attrs = verified.payload.get("attrs") or {}
    number = attrs.get("my_number") if isinstance(attrs, dict) else None
    if not isinstance(number, str) or not my_number_is_valid(number):
        raise _my_number_unreadable()
    return {**identity.as_json(), "my_number": number}


def _child_identity(verified: jpki.VerifiedSignature) -> dict[str, Any]:
    """The facts of a child's card, read from its text application with the child's PIN."""
    attrs = verified.payload.get("attrs") or {}
    identity = {key: attrs.get(key) for key in CHILD_ATTRIBUTES} if isinstance(attrs, dict) else {}
    number = identity.get("my_number")
    texts_ok = all(isinstance(identity.get(k), str) and 0 < len(identity[k]) <= 400 for k in CHILD_ATTRIBUTES)
    try:
        born = datetime_date.fromisoformat(identity.get("birth_date") or "")
    except ValueError:
        born = None
    if (
        not texts_ok
        or born is None
        or identity.get("sex") not in {"1", "2", "9"}
        or not my_number_is_valid(number)
    ):
        raise _child_card_unreadable()
    return identity


def child_start(*, parent: Resident, browser_key: str) -> SigningRequest:
    """Asks for the child's card and PIN: the parent opens the child's user folder from their own session."""
    return signing_request_create(
        kind=SigningKind.CHILD,
        browser_key=browser_key,
        summary_ja="お子様（15歳未満）のマイナンバーカードで、お子様の利用者登録をします。カードの券面事項"
        f"（氏名・生年月日・性別・住所）とマイナンバーを読み取ります。保護者: {parent.name}",
        summary_en="Open the user folder of your child (under 15) with the child's My Number Card: its "
        f"printed facts (name, birth date, sex, address) and My Number are read. Parent: {parent.name}",
        resident=parent,
    )


@dataclass(frozen=True)
class ChildCard:
    identity: dict[str, Any]
    serial_hash: str
    not_after: Any


def child_card_take(*, request_id: Any, browser_key: str, parent: Resident) -> ChildCard:
    """The child's card facts from a signed request of this parent and browser, once."""
    request = _own_signed_request(request_id, browser_key, SigningKind.CHILD)
    if request.resident_id != parent.pk:
        raise _request_unknown()
    _consume(request)
    return ChildCard(
        json.loads(request.card_identity or "{}"), request.signer_serial_hash, request.signer_not_after
    )


def child_folder_open(*, card: ChildCard, name_kana: str) -> Resident:
    """The child's user folder (opened or found), with the child's card bound for the child's own logins."""
    resident = _resident_for_identity({**card.identity, "name_kana": name_kana})
    bound = CardCertificate.objects.filter(serial_hash=card.serial_hash).first()
    if bound is not None and bound.resident_id != resident.pk:
        raise _refusal(
            "certificate_in_use",
            "この証明書は別の利用者フォルダに登録されています。",
            "This certificate is already linked to another user folder.",
            409,
        )
    _bind(resident, CertificateKind.AUTH, card.serial_hash, card.not_after)
    security_event_record("registered", resident=resident, request=None, by="parent")
    return resident


def _lock_pending(request_id: Any) -> SigningRequest:
    try:
        request = SigningRequest.objects.select_for_update().get(pk=request_id)
    except (SigningRequest.DoesNotExist, ValueError, TypeError) as exc:
        raise _request_unknown() from exc
    if request.status != SigningStatus.PENDING:
        raise _request_used()
    if request.is_expired:
        raise _request_expired()
    return request


def signing_response_accept(*, request_id: Any, jws: str) -> SigningRequest:
    """The card app's answer to a signing request. Refusals mark the request refused and are recorded."""
    try:
        with transaction.atomic():
            request = _lock_pending(request_id)
            verified = jpki.verify_signature(jws, kind=request.certificate)
            _check_payload(request, verified.payload)
            _accept_verified(request, verified)
            return request
    except PortalError as error:
        _record_refusal(request_id, error)
        raise


def _accept_verified(request: SigningRequest, verified: jpki.VerifiedSignature) -> None:
    request.signer_serial_hash = verified.serial_hash
    request.signer_not_after = verified.not_after
    bound = (
        CardCertificate.objects.filter(serial_hash=verified.serial_hash).select_related("resident").first()
    )
    if request.kind == SigningKind.LOGIN:
        request.resident = bound.resident if bound else None
    elif request.kind == SigningKind.REGISTER:
        request.card_identity = json.dumps(_registration_identity(verified), ensure_ascii=False)
    elif request.kind == SigningKind.CHILD:
        request.card_identity = json.dumps(_child_identity(verified), ensure_ascii=False)
    elif request.kind == SigningKind.STEPUP and (bound is None or bound.resident_id != request.resident_id):
        _refuse_other_persons_card(request, bound)
    request.status = SigningStatus.SIGNED
    request.signed_at = timezone.now()
    request.save()


def _refuse_other_persons_card(request: SigningRequest, bound: CardCertificate | None) -> None:
    # Raised inside the atomic block: the request is marked refused afterwards, outside it.
    raise PortalError(
        code="stepup_wrong_person",
        message_ja="ログイン中の方ご本人のカードではありません。安全のためログアウトしました。"
        "ご本人のカードで改めてログインしてください。",
        message_en="This is not the card of the person logged in. For safety you have been logged out; "
        "log in again with your own card.",
        status=403,
        extra={"other_resident": bound.resident_id if bound else None},
    )


# Refusals that a genuine card of a trusted CA caused end the request, and the waiting browser says why.
# Garbage (malformed, forged, mismatched) leaves it pending: whoever saw a QR code must not spoil a login.
REFUSALS_THAT_END_THE_REQUEST = frozenset(
    {
        "certificate_revoked",
        "certificate_expired",
        "certificate_not_yet_valid",
        "wrong_certificate_kind",
        "certificate_attributes_missing",
        "my_number_unreadable",
        "child_card_unreadable",
        "stepup_wrong_person",
    }
)


def _record_refusal(request_id: Any, error: PortalError) -> None:
    with transaction.atomic():
        request = SigningRequest.objects.select_for_update().filter(pk=request_id).first()
        resident = request.resident if request else None
        ends = error.code in REFUSALS_THAT_END_THE_REQUEST
        if request is not None and ends and request.status == SigningStatus.PENDING:
            request.status = SigningStatus.REFUSED
            request.refusal_code = error.code
            request.save(update_fields=["status", "refusal_code"])
        if error.code == "stepup_wrong_person" and resident is not None:
            User.objects.filter(pk=resident.user_id).update(sessions_valid_after=timezone.now())
        detail = {"code": error.code}
        if error.extra.get("other_resident"):
            detail["other_resident"] = error.extra["other_resident"]
        security_event_record(
            "desk_terminal_mismatch" if error.code == "stepup_wrong_person" else "signature_refused",
            resident=resident,
            request=request,
            **detail,
        )
    # The other resident's id is for staff (the security event), not for the card app's screen.
    error.extra.pop("other_resident", None)


# --- completing, in the browser that asked -----------------------------------------------------------


@dataclass(frozen=True)
class LoginOutcome:
    user: User | None
    register_request: SigningRequest | None


def _own_signed_request(request_id: Any, browser_key: str, kind: str) -> SigningRequest:
    request = SigningRequest.objects.select_for_update().filter(pk=request_id, kind=kind).first()
    if request is None or not secrets.compare_digest(request.browser_key_hash, browser_key_hash(browser_key)):
        raise _request_unknown()
    if request.status == SigningStatus.REFUSED:
        raise signing_refusal_error(request)
    if request.status == SigningStatus.CONSUMED:
        raise _request_used()
    if request.status != SigningStatus.SIGNED:
        raise _refusal(
            "not_signed_yet",
            "まだカードでの確認が済んでいません。",
            "The card has not confirmed this yet.",
            409,
        )
    if request.is_expired:
        raise _request_expired()
    return request


def _consume(request: SigningRequest) -> None:
    request.status = SigningStatus.CONSUMED
    request.consumed_at = timezone.now()
    request.save(update_fields=["status", "consumed_at"])


@transaction.atomic
def login_complete(*, request_id: Any, browser_key: str) -> LoginOutcome:
    """Turns a signed login request into a logged-in user, or into a request to open the user folder."""
    request = _own_signed_request(request_id, browser_key, SigningKind.LOGIN)
    _consume(request)
    if request.resident is not None:
        CardCertificate.objects.filter(serial_hash=request.signer_serial_hash).update(
            last_used_at=timezone.now()
        )
        security_event_record("login", resident=request.resident, request=request)
        return LoginOutcome(user=request.resident.user, register_request=None)
    register = signing_request_create(
        kind=SigningKind.REGISTER,
        browser_key=browser_key,
        summary_ja=REGISTER_SUMMARY[0],
        summary_en=REGISTER_SUMMARY[1],
    )
    register.auth_serial_hash = request.signer_serial_hash
    register.auth_not_after = request.signer_not_after
    register.save(update_fields=["auth_serial_hash", "auth_not_after"])
    return LoginOutcome(user=None, register_request=register)


def register_complete(*, request_id: Any, browser_key: str) -> User:
    """Opens the user folder from the signed registration, linking both certificates (SPEC 4)."""
    try:
        with transaction.atomic():
            request = _own_signed_request(request_id, browser_key, SigningKind.REGISTER)
            identity = json.loads(request.card_identity or "{}")
            resident = _resident_for_identity(identity)
            _bind(resident, CertificateKind.AUTH, request.auth_serial_hash, request.auth_not_after)
            _bind(resident, CertificateKind.SIGNATURE, request.signer_serial_hash, request.signer_not_after)
            _consume(request)
            security_event_record("registered", resident=resident, request=request)
            return resident.user
    except IntegrityError as exc:
        raise _refusal(
            "certificate_in_use",
            "この証明書は別の利用者フォルダに登録されています。",
            "This certificate is already linked to another user folder.",
            409,
        ) from exc


def _resident_for_identity(identity: dict[str, Any]) -> Resident:
    number_hash = lookup_hash(identity["my_number"], purpose="my-number")
    existing = Resident.objects.filter(my_number_hash=number_hash).first()
    fields = {key: identity[key] for key in ("name", "name_kana", "birth_date", "sex", "address")}
    if existing is not None:
        # A renewed card: same person, new certificates; the facts on the card are the current ones.
        for key, value in fields.items():
            setattr(existing, key, value)
        existing.save()
        return existing
    user = User.objects.create_user(username=f"resident-{secrets.token_hex(8)}")
    return Resident.objects.create(
        user=user, my_number=identity["my_number"], my_number_hash=number_hash, **fields
    )


def _bind(resident: Resident, kind: str, serial_hash: str, not_after: Any) -> None:
    CardCertificate.objects.update_or_create(
        serial_hash=serial_hash,
        defaults={"resident": resident, "kind": kind, "not_after": not_after, "last_used_at": timezone.now()},
    )


def signing_refusal_error(request: SigningRequest) -> PortalError:
    """Re-creates the message of a refused request for the browser that is waiting on it."""
    number, child = _my_number_unreadable(), _child_card_unreadable()
    messages = {
        "certificate_revoked": (
            "この電子証明書は失効しています。市区町村の窓口にお問い合わせください。",
            "This certificate has been revoked. Please contact your municipal office.",
        ),
        "certificate_expired": (
            "電子証明書の有効期限が切れています。市区町村の窓口で更新してください。",
            "The certificate has expired. Renew it at your municipal office.",
        ),
        "unknown_issuer": (
            "この証明書は信頼できる認証局が発行したものではありません。",
            "This certificate was not issued by a trusted certification authority.",
        ),
        "bad_signature": (
            "署名を検証できませんでした。改ざんされている可能性があります。",
            "The signature does not verify; the data may have been tampered with.",
        ),
        "certificate_not_yet_valid": (
            "この電子証明書はまだ有効期間が始まっていません。",
            "This certificate is not valid yet.",
        ),
        "wrong_certificate_kind": (
            "求められたものとは別の電子証明書で署名されました。最初からやり直してください。",
            "The card signed with another certificate than the one asked for. Please start again.",
        ),
        "certificate_attributes_missing": (
            "署名用電子証明書から基本4情報を読み取れませんでした。",
            "The signature certificate does not carry the expected personal attributes.",
        ),
        "my_number_unreadable": (number.message_ja, number.message_en),
        "child_card_unreadable": (child.message_ja, child.message_en),
        "stepup_wrong_person": (
            "ログイン中の方ご本人のカードではありません。安全のためログアウトしました。",
            "This is not the card of the person logged in. For safety you have been logged out.",
        ),
    }
    ja, en = messages.get(
        request.refusal_code,
        (
            "カードでの確認を受け付けられませんでした。最初からやり直してください。",
            "The card's answer was refused. Please start again.",
        ),
    )
    return _refusal(request.refusal_code or "refused", ja, en, 403)


@dataclass(frozen=True)
class StepUpProof:
    """Evidence that the session's own resident signed this very act: kept with the act it authorised."""

    request_id: str
    act: str
    act_digest: str
    signed_at: Any
    signer_serial_hash: str


def stepup_confirm(
    *, request_id: Any, resident: Resident, browser_key: str, act: str, payload: dict[str, Any]
) -> StepUpProof:
    """Consumes a signed step-up once, for the same resident, act and content, while it is fresh.

    A signature offered for another act or other content than was signed is recorded for staff, after
    the refused transaction has rolled back: it is what tampering with the act between signing and
    sending looks like.
    """
    try:
        return _stepup_take(
            request_id=request_id, resident=resident, browser_key=browser_key, act=act, payload=payload
        )
    except PortalError as error:
        if error.code == "stepup_mismatch":
            security_event_record(
                "stepup_refused", resident=resident, code=error.code, act=act, signing_request=str(request_id)
            )
        raise


@transaction.atomic
def _stepup_take(
    *, request_id: Any, resident: Resident, browser_key: str, act: str, payload: dict[str, Any]
) -> StepUpProof:
    request = _own_signed_request(request_id, browser_key, SigningKind.STEPUP)
    if (
        request.resident_id != resident.pk
        or request.act != act
        or request.act_digest != act_digest(act, payload)
    ):
        raise _refusal(
            "stepup_mismatch",
            "署名された内容がこの手続と一致しません。最初からやり直してください。",
            "What was signed does not match this act. Please start again.",
            403,
        )
    if timezone.now() - request.signed_at > timedelta(seconds=settings.STEP_UP_MAX_AGE):
        raise _refusal(
            "stepup_stale",
            "署名から時間が経ちすぎています。もう一度署名してください。",
            "Too much time has passed since signing. Please sign again.",
            410,
        )
    _consume(request)
    security_event_record("stepup", resident=resident, request=request, act=act)
    return StepUpProof(
        request_id=str(request.id),
        act=act,
        act_digest=request.act_digest,
        signed_at=request.signed_at,
        signer_serial_hash=request.signer_serial_hash,
    )


def purge_signing_requests(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Challenges are worthless once expired; keep a day for support, then delete."""
    deleted, _ = SigningRequest.objects.filter(expires_at__lt=timezone.now() - older_than).delete()
    return deleted


REVOCATION_CHUNK = 5000


def card_revocations_record(*, crl: Any) -> list[int]:
    """Marks the residents' certificates that the CRL now lists; returns the residents newly affected.

    Certificates are known only by a keyed hash of issuer and serial, so each revoked serial is hashed
    the same way and looked up in chunks. Residents are told through the ``card_revoked`` signal (their
    proxies, for one, must not go on silently).
    """
    from portal.identity.signals import card_revoked

    issuer = crl.issuer.rfc4514_string()
    hashes = [lookup_hash(f"{issuer}|{entry.serial_number}", purpose="jpki-serial") for entry in crl]
    now = timezone.now()
    affected: set[int] = set()
    for start in range(0, len(hashes), REVOCATION_CHUNK):
        chunk = hashes[start : start + REVOCATION_CHUNK]
        fresh = CardCertificate.objects.filter(serial_hash__in=chunk, revoked_at__isnull=True)
        affected.update(fresh.values_list("resident_id", flat=True))
        fresh.update(revoked_at=now)
    residents = sorted(affected)
    if residents:
        card_revoked.send(sender=CardCertificate, resident_ids=residents)
    return residents
