"""Writes of the notice inbox: agencies' notices in, residents' states and answers, answers out.

Every check of an agency's notice runs before the first write, and the notice with its attachments is
stored in one transaction: a refused notice leaves nothing behind. An answer is recorded in the
resident's access history as released to the agency (SPEC 2.3) before it is stored and queued for the
agency's webhook, so it can never reach the agency unrecorded.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from notices import attachments as attachment_store
from notices.categories import NOTICE_CATEGORY_CODES
from notices.conf import conf
from notices.forms import answer_errors, form_schema_check, prefill_check
from notices.markup import markup_problem
from notices.models import (
    Action,
    AgencyClient,
    Audience,
    DeliveryState,
    Notice,
    NoticeAttachment,
    NoticeResponse,
    NoticeState,
    ResidentAgencyCode,
    WebhookDelivery,
)
from notices.notify import notifications_together, resident_notify
from notices.selectors import (
    MUNICIPALITY_MAX,
    agency_code_hash,
    broadcast_residents,
    notice_visible_q,
    resident_by_agency_code,
    unread_count_forget,
)
from portal.agencies.codes import agency_code, agency_registry
from portal.core.errors import PortalError
from portal.core.lost_tasks import RELEASED, SENT_AGAIN, lost_task_stall
from portal.history.models import Channel
from portal.history.services import Actor, release_record
from portal.identity.models import CardCertificate, Resident
from portal.identity.services import StepUpProof, act_digest
from portal.proxies.access import out_of_scope, usable_grant
from portal.proxies.models import ProxyGrant
from portal.proxies.scopes import NOTICES_ANSWER

logger = logging.getLogger(__name__)

RESPOND_ACT = "notice.respond"
# Codes indexed on the fly when a look-up misses; more than this is the management command's work.
LAZY_FILL_MAX = 10_000
AGENCY_CODE = re.compile(r"[A-Z2-7]{26}")
_TAG_LIKE = re.compile(r"<\s*[A-Za-z!/?]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _invalid(code: str, ja: str, en: str, field_name: str, status: int = 422) -> PortalError:
    return PortalError(code, ja, en, status, extra={"field": field_name})


# --- agency-specific codes -----------------------------------------------------------------------------


def agency_codes_fill(
    *, residents: Any = None, agency_ids: list[str] | None = None, batch_size: int = 500
) -> int:
    """Indexes each resident's code at each agency (missing rows only); the number of rows added.

    Run at registration for one resident, and by ``manage.py fill_agency_codes`` for everyone.
    """
    agency_ids = agency_ids or list(agency_registry())
    queryset = residents if residents is not None else Resident.objects.all()
    added = 0
    for agency_id in agency_ids:
        pending = queryset.exclude(agency_codes__agency_id=agency_id).only("pk", "my_number").order_by("pk")
        rows: list[ResidentAgencyCode] = []
        for resident in pending.iterator(chunk_size=batch_size):
            code = agency_code(my_number=resident.my_number, agency_id=agency_id)
            rows.append(
                ResidentAgencyCode(
                    resident_id=resident.pk,
                    agency_id=agency_id,
                    code_hash=agency_code_hash(agency_id=agency_id, code=code),
                )
            )
            if len(rows) >= batch_size:
                added += len(ResidentAgencyCode.objects.bulk_create(rows, ignore_conflicts=True))
                rows = []
        if rows:
            added += len(ResidentAgencyCode.objects.bulk_create(rows, ignore_conflicts=True))
    return added


def resident_for_agency_code(*, agency_id: str, code: str) -> Resident | None:
    """The resident an agency names by its own code (機関別符号), or None."""
    resident = resident_by_agency_code(agency_id=agency_id, code=code)
    if resident is not None:
        return resident
    unindexed = Resident.objects.count() - ResidentAgencyCode.objects.filter(agency_id=agency_id).count()
    if 0 < unindexed <= LAZY_FILL_MAX:
        # A few residents are not indexed for this agency yet (an agency added since they registered).
        agency_codes_fill(agency_ids=[agency_id])
        return resident_by_agency_code(agency_id=agency_id, code=code)
    if unindexed > LAZY_FILL_MAX:
        logger.warning("%s residents lack a code index for %s: run fill_agency_codes", unindexed, agency_id)
    return None


# --- notices from agencies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientSpec:
    """``resident`` (by the agency's code), ``segment`` (municipality and/or age range) or ``everyone``."""

    type: str
    agency_code: str = ""
    municipality: str = ""
    min_age: int | None = None
    max_age: int | None = None


@dataclass(frozen=True)
class AttachmentSpec:
    filename: str
    content_type: str
    content_base64: str


@dataclass(frozen=True)
class NoticeDraft:
    """A notice as an agency sent it, before any check."""

    recipient: RecipientSpec
    category: str
    title_ja: str
    body_ja: str
    title_en: str = ""
    body_en: str = ""
    deadline: dt.datetime | None = None
    action: str = Action.NONE
    form_schema: dict[str, Any] | None = None
    prefill: list[Any] = field(default_factory=list)
    requires_signature: bool = False
    attachments: tuple[AttachmentSpec, ...] = ()


def notice_request_digest(body: Any) -> str:
    """The digest an Idempotency-Key is bound to: the request's JSON, canonical (key order, spacing)."""
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_title(value: str, field_name: str, *, required: bool) -> str:
    value = (value or "").strip()
    limit = conf("NOTICE_TITLE_MAX_CHARS")
    if not value:
        if required:
            raise _invalid("title_missing", "件名がありません。", "The title is missing.", field_name)
        return ""
    if len(value) > limit:
        raise _invalid(
            "title_too_long",
            f"件名が長すぎます（{limit}文字まで）。",
            f"The title is too long (at most {limit} characters).",
            field_name,
        )
    if _TAG_LIKE.search(value) or _CONTROL.search(value) or "\n" in value:
        raise _invalid(
            "title_markup",
            "件名にHTMLや改行・制御文字は使えません。",
            "The title may not contain HTML, line breaks or control characters.",
            field_name,
        )
    return value


_MARKUP_REFUSALS = {
    "html": (
        "body_html",
        "本文にHTMLやスクリプトは使えません。使えるのは段落・太字・箇条書き・https のリンクだけです。",
        "HTML and scripts are not allowed in the body: only paragraphs, bold, lists and https links.",
    ),
    "image": (
        "body_image",
        "本文に画像は使えません（外部の画像は読み込みません）。資料はPDFで添付してください。",
        "Images are not allowed in the body (remote images are never loaded). Attach documents as PDF.",
    ),
    "link_scheme": (
        "body_link",
        "本文のリンクは https:// で始まるものだけが使えます。",
        "Links in the body must start with https://.",
    ),
}


def _check_body(value: str, field_name: str, *, required: bool) -> str:
    value = value or ""
    limit = conf("NOTICE_BODY_MAX_CHARS")
    if not value.strip():
        if required:
            raise _invalid("body_missing", "本文がありません。", "The body is missing.", field_name)
        return ""
    if len(value) > limit:
        raise _invalid(
            "body_too_long",
            f"本文が長すぎます（{limit:,}文字まで、送信されたのは{len(value):,}文字）。",
            f"The body is too long (at most {limit:,} characters; {len(value):,} were sent).",
            field_name,
        )
    if _CONTROL.search(value):
        raise _invalid(
            "body_control",
            "本文に制御文字は使えません。",
            "The body may not contain control characters.",
            field_name,
        )
    problem = markup_problem(value)
    if problem is not None:
        code, ja, en = _MARKUP_REFUSALS[problem]
        raise _invalid(code, ja, en, field_name)
    return value


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class _Audience:
    audience: str
    recipient: Resident | None = None
    municipality: str = ""
    min_age: int | None = None
    max_age: int | None = None
    born_from: dt.date | None = None
    born_to: dt.date | None = None


def _check_recipient(spec: RecipientSpec, agency_id: str, today: dt.date) -> _Audience:
    if spec.type == "resident":
        code = (spec.agency_code or "").strip()
        if not AGENCY_CODE.fullmatch(code):
            raise _invalid(
                "recipient_code_malformed",
                "宛先の機関別符号の形式が正しくありません（英大文字と数字2〜7の26文字）。",
                "The recipient's agency code is malformed (26 characters: A-Z and 2-7).",
                "recipient.agency_code",
            )
        resident = resident_for_agency_code(agency_id=agency_id, code=code)
        if resident is None:
            raise _invalid(
                "unknown_recipient",
                "この機関別符号の利用者はマイナポータルに登録されていません。お知らせは保存されていません。",
                "No resident registered with the portal has this agency code. The notice was not stored.",
                "recipient.agency_code",
            )
        return _Audience(audience=Audience.RESIDENT, recipient=resident)
    if spec.type == "everyone":
        if spec.municipality or spec.min_age is not None or spec.max_age is not None:
            raise _invalid(
                "recipient_segment",
                "「全員」あてのお知らせに条件は付けられません（segment を使ってください）。",
                'A notice to "everyone" takes no conditions (use "segment").',
                "recipient",
            )
        return _Audience(audience=Audience.BROADCAST)
    if spec.type != "segment":
        raise _invalid(
            "recipient_type",
            "宛先の種類は resident・segment・everyone のいずれかです。",
            "The recipient type must be resident, segment or everyone.",
            "recipient.type",
        )
    municipality = (spec.municipality or "").strip()
    if (municipality and not (2 <= len(municipality) <= MUNICIPALITY_MAX)) or _TAG_LIKE.search(municipality):
        raise _invalid(
            "recipient_municipality",
            f"市区町村は住所の先頭部分（2〜{MUNICIPALITY_MAX}文字）で指定してください。"
            "例: 神奈川県横浜市中区",
            f"Give the municipality as the start of the address (2 to {MUNICIPALITY_MAX} characters, "
            "for example 神奈川県横浜市中区).",
            "recipient.municipality",
        )
    ages = [a for a in (spec.min_age, spec.max_age) if a is not None]
    if any(not 0 <= a <= 150 for a in ages) or (len(ages) == 2 and spec.min_age > spec.max_age):  # type: ignore[operator]
        raise _invalid(
            "recipient_age",
            "年齢の範囲が正しくありません（0〜150歳、下限は上限以下）。",
            "The age range is invalid (0 to 150, the lower bound at most the upper).",
            "recipient",
        )
    if not municipality and not ages:
        raise _invalid(
            "recipient_segment",
            "segment には市区町村か年齢の範囲を指定してください（全員あては everyone）。",
            'A segment needs a municipality or an age range (for everyone, use "everyone").',
            "recipient",
        )
    return _Audience(
        audience=Audience.BROADCAST,
        municipality=municipality,
        min_age=spec.min_age,
        max_age=spec.max_age,
        born_to=_years_before(today, spec.min_age) if spec.min_age is not None else None,
        born_from=(
            _years_before(today, spec.max_age + 1) + dt.timedelta(days=1)
            if spec.max_age is not None
            else None
        ),
    )


def _check_action(draft: NoticeDraft) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    if draft.action not in Action.values:
        raise _invalid(
            "action_type",
            "回答の種類は none・confirm・form のいずれかです。",
            "The action must be none, confirm or form.",
            "action.type",
        )
    if draft.action != Action.FORM:
        if draft.form_schema is not None or draft.prefill:
            raise _invalid(
                "action_schema_unexpected",
                "回答フォームの定義は action が form のときだけ指定できます。",
                'A form schema and prefill are allowed only with the action "form".',
                "action.schema",
            )
        if draft.requires_signature and draft.action == Action.NONE:
            raise _invalid(
                "signature_without_action",
                "回答のないお知らせに署名は求められません。",
                "A notice that asks for no answer cannot ask for a signature.",
                "action.requires_signature",
            )
        return None, []
    if draft.form_schema is None:
        raise _invalid(
            "form_schema_missing",
            "action が form のときは回答フォームの定義（schema）が必要です。",
            'The action "form" needs a form schema.',
            "action.schema",
        )
    form_schema_check(
        draft.form_schema,
        max_bytes=conf("NOTICE_SCHEMA_MAX_BYTES"),
        max_fields=conf("NOTICE_SCHEMA_MAX_FIELDS"),
    )
    return draft.form_schema, prefill_check(draft.prefill, draft.form_schema)


def _check_attachments(draft: NoticeDraft) -> list[attachment_store.CheckedAttachment]:
    limit = conf("NOTICE_ATTACHMENTS_MAX")
    if len(draft.attachments) > limit:
        raise _invalid(
            "too_many_attachments",
            f"添付ファイルが多すぎます（{limit}件まで）。",
            f"Too many attachments (at most {limit}).",
            "attachments",
        )
    return [
        attachment_store.attachment_check(
            index=i,
            filename=a.filename,
            content_type=a.content_type,
            content_base64=a.content_base64,
            max_bytes=conf("NOTICE_ATTACHMENT_MAX_BYTES"),
        )
        for i, a in enumerate(draft.attachments)
    ]


def _replay(existing: Notice, request_digest: str) -> tuple[Notice, bool]:
    if existing.request_digest != request_digest:
        raise PortalError(
            "idempotency_conflict",
            "この Idempotency-Key は別の内容のお知らせに使われています。新しい内容には新しいキーを。",
            "This Idempotency-Key was used for different content. Use a new key for new content.",
            409,
            extra={"notice_id": str(existing.public_id)},
        )
    return existing, False


def notice_replay(*, client: AgencyClient, idempotency_key: str, request_digest: str) -> Notice | None:
    """The notice an earlier request with this key made (same body), None for a new key; 409 otherwise."""
    existing = Notice.objects.filter(agency_id=client.agency_id, idempotency_key=idempotency_key).first()
    return _replay(existing, request_digest)[0] if existing is not None else None


def notice_create(
    *, client: AgencyClient, idempotency_key: str, request_digest: str, draft: NoticeDraft
) -> tuple[Notice, bool]:
    """The notice, and whether it is new; a repeat of the same request gives the first notice again.

    All checks run before anything is written; then the notice and its attachments are stored together.
    """
    replayed = notice_replay(client=client, idempotency_key=idempotency_key, request_digest=request_digest)
    if replayed is not None:
        return replayed, False

    now = timezone.now()
    if draft.category not in NOTICE_CATEGORY_CODES:
        raise _invalid(
            "unknown_category",
            "お知らせの分類が正しくありません。",
            f"Unknown category. Use one of: {', '.join(sorted(NOTICE_CATEGORY_CODES))}.",
            "category",
        )
    title_ja = _check_title(draft.title_ja, "title.ja", required=True)
    title_en = _check_title(draft.title_en, "title.en", required=False)
    body_ja = _check_body(draft.body_ja, "body.ja", required=True)
    body_en = _check_body(draft.body_en, "body.en", required=False)
    if bool(title_en) != bool(body_en):
        raise _invalid(
            "english_incomplete",
            "英語の件名と本文は両方とも指定するか、両方とも省略してください。",
            "Give both the English title and the English body, or neither.",
            "title.en" if body_en else "body.en",
        )
    if draft.deadline is not None and draft.deadline <= now:
        raise _invalid(
            "deadline_in_past",
            "期限が過去の日時です。",
            "The deadline is in the past.",
            "deadline",
        )
    form_schema, prefill = _check_action(draft)
    checked_attachments = _check_attachments(draft)
    audience = _check_recipient(draft.recipient, client.agency_id, timezone.localdate(now))
    agency = agency_registry().get(client.agency_id)

    try:
        with transaction.atomic():
            notice = Notice.objects.create(
                client=client,
                agency_id=client.agency_id,
                sender_name_ja=agency.name_ja if agency else client.name,
                sender_name_en=agency.name_en if agency else client.name,
                idempotency_key=idempotency_key,
                request_digest=request_digest,
                category=draft.category,
                title_ja=title_ja,
                title_en=title_en,
                body_ja=body_ja,
                body_en=body_en,
                deadline=draft.deadline,
                action=draft.action,
                form_schema=form_schema,
                form_field_order=list(form_schema["properties"]) if form_schema else [],
                prefill=prefill,
                requires_signature=draft.requires_signature,
                audience=audience.audience,
                recipient=audience.recipient,
                segment_municipality=audience.municipality,
                segment_min_age=audience.min_age,
                segment_max_age=audience.max_age,
                segment_born_from=audience.born_from,
                segment_born_to=audience.born_to,
                sent_at=now,
            )
            for position, checked in enumerate(checked_attachments):
                attachment = NoticeAttachment(
                    notice=notice,
                    position=position,
                    filename=checked.filename,
                    size=len(checked.content),
                    sha256=checked.sha256,
                )
                attachment.key_id, attachment.ciphertext = attachment_store.attachment_encrypt(
                    checked.content, public_id=attachment.public_id
                )
                attachment.save()
            transaction.on_commit(lambda: _announce(notice.pk), robust=True)
    except IntegrityError:
        # Another request with the same key won the race: answer as for any repeat.
        existing = Notice.objects.filter(agency_id=client.agency_id, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _replay(existing, request_digest)
    # After the commit: a count computed meanwhile must not outlive the change.
    unread_count_forget(resident_id=audience.recipient.pk if audience.recipient else None)
    return notice, True


PORTAL_SENDER_ID = "myna-portal"


def portal_notice_send(
    *,
    resident: Resident,
    key: str,
    category: str,
    title_ja: str,
    title_en: str,
    body_ja: str,
    body_en: str,
) -> Notice:
    """A notice from the portal itself (a change to the resident's own records), announced like any other.

    ``key`` makes it idempotent: a task that runs twice sends one notice. The portal's sender is a client
    row that can never authenticate (inactive, no keys), so that every notice has a sender.
    """
    sender, _ = AgencyClient.objects.get_or_create(
        client_id=PORTAL_SENDER_ID,
        defaults={
            "agency_id": PORTAL_SENDER_ID,
            "name": "マイナポータル",
            "jwks": {"keys": []},
            "active": False,
        },
    )
    notice, created = Notice.objects.get_or_create(
        agency_id=PORTAL_SENDER_ID,
        idempotency_key=key,
        defaults={
            "client": sender,
            "sender_name_ja": "マイナポータル（デジタル庁）",
            "sender_name_en": "Myna Portal (Digital Agency)",
            "request_digest": hashlib.sha256(key.encode()).hexdigest(),
            "category": category,
            "title_ja": title_ja,
            "title_en": title_en,
            "body_ja": body_ja,
            "body_en": body_en,
            "audience": Audience.RESIDENT,
            "recipient": resident,
        },
    )
    if created:
        transaction.on_commit(lambda: _announce(notice.pk), robust=True)
        transaction.on_commit(lambda: unread_count_forget(resident_id=resident.pk))
    return notice


def _announce(notice_id: int) -> None:
    from notices.tasks import announce_notice

    announce_notice.delay(notice_id)


#: How many residents of a broadcast are told between two signs of life (announce_tried_at).
ANNOUNCE_CHUNK = 2000


def notice_announce(*, notice_id: int) -> int:
    """Tells the recipients that a notice arrived (portal.notify decides how); how many were told.

    Safe to run twice (a redelivery, the lost-task sweep's resend): portal.notify dedupes by the
    notice's key, so nobody is told twice. Marks the notice announced when done; a broadcast leaves a
    sign of life every chunk, so that a long one is never taken for lost.
    """
    from portal.notify.selectors import reachable_residents  # as the task always did: notices builds on it

    notice = Notice.objects.filter(pk=notice_id).first()
    if notice is None:
        return 0
    Notice.objects.filter(pk=notice.pk).update(announce_tried_at=timezone.now())
    url = reverse("notices:detail", args=[notice.public_id])
    key = f"notice:{notice.public_id}"  # a redelivered task tells nobody twice
    if notice.audience == Audience.RESIDENT:
        told = int(
            resident_notify(resident=notice.recipient, category=notice.category, url=url, dedupe_key=key)
        )
    else:
        told = 0
        with notifications_together():
            residents = reachable_residents(broadcast_residents(notice=notice)).iterator(
                chunk_size=ANNOUNCE_CHUNK
            )
            for resident in residents:
                if not resident_notify(resident=resident, category=notice.category, url=url, dedupe_key=key):
                    break  # no notifier installed: nobody to tell
                told += 1
                if told % ANNOUNCE_CHUNK == 0:
                    Notice.objects.filter(pk=notice.pk).update(announce_tried_at=timezone.now())
    Notice.objects.filter(pk=notice.pk).update(announced_at=timezone.now())
    return told


def notices_unannounced(*, cutoff: dt.datetime, now: dt.datetime) -> QuerySet[Notice]:
    """Notices whose recipients were not told, with no sign of life of the telling since ``cutoff``."""
    return (
        Notice.objects.filter(announced_at__isnull=True, sent_at__lte=cutoff)
        .filter(Q(announce_tried_at__isnull=True) | Q(announce_tried_at__lte=cutoff))
        .only("pk")
        .order_by("sent_at")
    )


def notice_announce_send_again(notice: Notice, *, now: dt.datetime) -> str:
    from notices.tasks import announce_notice

    Notice.objects.filter(pk=notice.pk).update(announce_tried_at=now)
    announce_notice.delay(notice.pk)
    return SENT_AGAIN


# --- the resident's side -------------------------------------------------------------------------------


def _state_for_update(*, resident: Resident, notice: Notice) -> NoticeState:
    state, _ = NoticeState.objects.select_for_update().get_or_create(resident=resident, notice=notice)
    return state


def notice_mark_read(*, resident: Resident, notice: Notice) -> None:
    """First opening of a notice: its state row is made now, if it did not exist.

    The state services commit before they forget the cached unread count (so none is cached stale).
    """
    if NoticeState.objects.filter(resident=resident, notice=notice, read_at__isnull=False).exists():
        return
    with transaction.atomic():
        state = _state_for_update(resident=resident, notice=notice)
        if state.read_at is None:
            state.read_at = timezone.now()
            state.save(update_fields=["read_at"])
    unread_count_forget(resident_id=resident.pk)


def notice_archive(*, resident: Resident, notice: Notice, archived: bool = True) -> None:
    with transaction.atomic():
        state = _state_for_update(resident=resident, notice=notice)
        state.archived_at = timezone.now() if archived else None
        state.save(update_fields=["archived_at"])
    unread_count_forget(resident_id=resident.pk)


def respond_payload(
    *, notice: Notice, answers: dict[str, Any], grant: ProxyGrant | None = None
) -> dict[str, Any]:
    """What the answerer signs when the notice asks for a signature: this notice, these answers, and for
    a proxy, for whom and under which grant (a signature for one principal is no use for another)."""
    payload: dict[str, Any] = {"notice": str(notice.public_id), "answers": answers}
    if grant is not None:
        payload["on_behalf_of"] = str(grant.principal.public_id)
        payload["grant"] = str(grant.public_id)
    return payload


def respond_summary(*, notice: Notice, principal: Resident | None = None) -> tuple[str, str]:
    """What the card app shows before the signature; a proxy reads for whom they sign."""
    title_en = notice.title_en or notice.title_ja
    if principal is not None:
        return (
            f"{principal.name}さんの代理人として、{notice.sender_name_ja}からのお知らせ"
            f"「{notice.title_ja}」に、確認した内容で回答します。",
            f"On behalf of {principal.name}, answer the notice “{title_en}” from "
            f"{notice.sender_name_en} with the content you checked.",
        )
    return (
        f"{notice.sender_name_ja}からのお知らせ「{notice.title_ja}」に、確認した内容で回答します。",
        f"Answer the notice “{title_en}” from {notice.sender_name_en} with the content you checked.",
    )


def notice_answer_check(*, notice: Notice, answers: Any, now: dt.datetime | None = None) -> None:
    """Whether this answer may be given now; a PortalError saying why not."""
    now = now or timezone.now()
    if notice.action == Action.NONE:
        raise PortalError(
            "no_answer_needed", "このお知らせには回答できません。", "This notice takes no answer.", 400
        )
    if notice.deadline is not None and notice.deadline <= now:
        raise PortalError(
            "deadline_passed",
            "回答の期限を過ぎています。お知らせの送り主にお問い合わせください。",
            "The deadline for answering has passed. Please contact the sender of the notice.",
            422,
        )
    if notice.action == Action.CONFIRM:
        if answers != {}:
            raise PortalError(
                "answer_invalid", "回答の内容が正しくありません。", "The answer is not valid.", 422
            )
        return
    fields = answer_errors(notice.form_schema or {}, answers)
    if fields:
        raise PortalError(
            "answer_invalid",
            "入力内容に誤りがあります。印の付いた項目を確認してください。",
            "Some answers are not valid. Please check the marked fields.",
            422,
            extra={"fields": fields},
        )


def _answering_grant(*, grant: ProxyGrant, principal: Resident) -> ProxyGrant:
    """The grant loaded again now: still active, unexpired, the principal's, with the scope to answer."""
    current = usable_grant(proxy=grant.proxy, grant_public_id=str(grant.public_id))
    if current is None or current.principal_id != principal.pk:
        raise PortalError(
            "grant_not_usable",
            "代理は終了したか、期限が切れています。回答は送られていません。",
            "The proxy has ended or expired. The answer was not sent.",
            403,
        )
    if NOTICES_ANSWER not in current.scopes:
        raise out_of_scope(NOTICES_ANSWER)
    current.proxy = grant.proxy
    return current


def _signed_by_own_card(resident: Resident, proof: StepUpProof) -> bool:
    """The step-up already insists on the session's own card; checked again where the answer is kept."""
    return CardCertificate.objects.filter(serial_hash=proof.signer_serial_hash, resident=resident).exists()


def notice_respond(
    *,
    resident: Resident,
    notice: Notice,
    answers: dict[str, Any],
    proof: StepUpProof | None,
    grant: ProxyGrant | None = None,
) -> NoticeResponse:
    """Stores the answer to the resident's notice, given by the resident or, under ``grant``, by their
    proxy, and queues it for the agency's webhook.

    Not one transaction: the release to the agency is recorded (durably, SPEC 2.3) first, then the
    answer, its state and its delivery are stored together. A proxy's answer is the proxy's act: signed
    with the proxy's card, recorded with the proxy as actor, named as theirs to the agency (without any
    universal key), and told to the principal.
    """
    if not Notice.objects.filter(notice_visible_q(resident=resident), pk=notice.pk).exists():
        raise PortalError("not_found", "お知らせが見つかりません。", "No such notice.", 404)
    answerer = resident
    if grant is not None:
        grant = _answering_grant(grant=grant, principal=resident)
        answerer = grant.proxy
    notice_answer_check(notice=notice, answers=answers)
    if notice.requires_signature:
        expected = act_digest(RESPOND_ACT, respond_payload(notice=notice, answers=answers, grant=grant))
        if proof is None or proof.act != RESPOND_ACT or proof.act_digest != expected:
            raise PortalError(
                "signature_required",
                "この回答には署名用電子証明書による署名が必要です。",
                "This answer needs a signature with your signature certificate.",
                403,
            )
        if not _signed_by_own_card(answerer, proof):
            raise PortalError(
                "signature_not_answerers",
                "回答する方ご自身のカードで署名されていません。回答は送られていません。",
                "The answer was not signed with the card of the person answering. It was not sent.",
                403,
            )
    if NoticeResponse.objects.filter(notice=notice, resident=resident).exists():
        raise _already_answered()
    if grant is None:
        actor = Actor.for_agency(notice.agency_id, notice.sender_name_ja)
        purpose = f"お知らせ「{notice.title_ja}」への回答"
    else:
        actor = Actor.for_proxy(answerer)
        purpose = f"{notice.sender_name_ja}のお知らせ「{notice.title_ja}」への代理人による回答"
    release_record(
        owner=resident,
        actor=actor,
        category="notices",
        items=sorted(answers)[:20] or ["confirmation"],
        purpose=purpose[:200],
        channel=Channel.AGENCY_API,
        # A proxy's answer is told to the principal by the portal's notice (_proxy_answer_tell: who
        # answered what, when), not by a second, vaguer "your proxy read your data" alert of the same act.
        alert_owner=grant is None,
    )
    if grant is not None:
        # The agency also learns who answered: the proxy's own name and code go out, recorded for them.
        release_record(
            owner=answerer,
            actor=Actor.for_agency(notice.agency_id, notice.sender_name_ja),
            category="identity",
            items=["name", "agency_code"],
            purpose=f"{resident.name}さんの代理人としての、お知らせ「{notice.title_ja}」への回答"[:200],
            channel=Channel.AGENCY_API,
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            response = NoticeResponse.objects.create(
                notice=notice,
                resident=resident,
                answers=json.dumps(answers, ensure_ascii=False, sort_keys=True),
                submitted_at=now,
                signed=proof is not None,
                stepup_request_id=proof.request_id if proof else "",
                stepup_act_digest=proof.act_digest if proof else "",
                signed_at=proof.signed_at if proof else None,
                signer_serial_hash=proof.signer_serial_hash if proof else "",
                proxy=grant.proxy if grant else None,
                proxy_grant=grant,
            )
            state = _state_for_update(resident=resident, notice=notice)
            state.responded_at = now
            if grant is None:
                # A proxy's reading is not the principal's: the notice stays unread for them.
                state.read_at = state.read_at or now
            state.save(update_fields=["responded_at", "read_at"])
            client = notice.client
            if client.webhook_url:
                delivery = _delivery_create(client=client, response=response, answers=answers)
                transaction.on_commit(lambda: _queue_delivery(delivery.pk), robust=True)
            if grant is not None:
                _proxy_answer_tell(response=response)
    except IntegrityError as exc:
        raise _already_answered() from exc
    unread_count_forget(resident_id=resident.pk)
    return response


def _proxy_answer_tell(*, response: NoticeResponse) -> None:
    """The principal hears of their proxy's answer from the portal (inbox and push), as of other acts."""
    notice, proxy = response.notice, response.proxy
    when = timezone.localtime(response.submitted_at)
    portal_notice_send(
        resident=response.resident,
        key=f"proxy-answer:{response.public_id}",
        category="procedure",
        title_ja="代理人がお知らせに回答しました",
        title_en="Your proxy answered a notice",
        body_ja=f"代理人の{proxy.name}さんが、{notice.sender_name_ja}からのお知らせ「{notice.title_ja}」に"
        f"回答しました（{when:%Y-%m-%d %H:%M}、受付番号 {response.receipt_number}）。\n\n"
        "回答はお知らせの画面で確かめられます。心当たりがないときは、「代理人」でこの代理人をすぐに"
        "終了してください。",
        body_en=f"Your proxy {proxy.name} answered the notice “{notice.title_en or notice.title_ja}” from "
        f"{notice.sender_name_en} ({when:%Y-%m-%d %H:%M}, receipt number {response.receipt_number}).\n\n"
        "You can see the answer on the notice's page. If you did not expect this, end this proxy at once "
        "under Proxies.",
    )


def _already_answered() -> PortalError:
    return PortalError(
        "already_answered", "このお知らせには回答済みです。", "You have already answered this notice.", 409
    )


def response_agency_code(response: NoticeResponse) -> str:
    """The responder as the agency knows them: its own code, derived here, never the My Number."""
    return agency_code(my_number=response.resident.my_number, agency_id=response.notice.agency_id)


def response_document(response: NoticeResponse, answers: dict[str, Any] | None = None) -> dict[str, Any]:
    """An answer as the agency receives it (webhook and API alike)."""
    return {
        "id": str(response.public_id),
        "receipt_number": response.receipt_number,
        "notice_id": str(response.notice.public_id),
        "agency_code": response_agency_code(response),
        "submitted_at": response.submitted_at.isoformat(),
        "answers": answers if answers is not None else json.loads(response.answers),
        "signature": {
            "signed": response.signed,
            "signed_at": response.signed_at.isoformat() if response.signed_at else None,
            "act_digest": response.stepup_act_digest or None,
        },
        "answered_by": response_answered_by(response),
    }


def response_answered_by(response: NoticeResponse) -> dict[str, Any]:
    """Who gave the answer, for the agency: the resident, or a proxy by name, relationship and the
    agency's own code for them. Never the proxy's My Number, card or anything another agency shares."""
    if response.proxy_id is None:
        return {"kind": "resident"}
    proxy = response.proxy
    return {
        "kind": "proxy",
        "relationship": response.proxy_grant.kind if response.proxy_grant_id else None,
        "name": proxy.name,
        "agency_code": agency_code(my_number=proxy.my_number, agency_id=response.notice.agency_id),
    }


# --- webhooks ------------------------------------------------------------------------------------------


def _delivery_create(
    *, client: AgencyClient, response: NoticeResponse, answers: dict[str, Any]
) -> WebhookDelivery:
    delivery = WebhookDelivery(client=client, response=response, event_type="notice.response")
    body = {
        "event_id": str(delivery.public_id),
        "type": delivery.event_type,
        "created_at": timezone.now().isoformat(),
        "notice": {"id": str(response.notice.public_id), "idempotency_key": response.notice.idempotency_key},
        "response": response_document(response, answers),
    }
    delivery.payload = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    # The task queued after commit has a stall to attempt it; if it is lost, the lost-task sweep sends then.
    delivery.next_attempt_at = timezone.now() + lost_task_stall()
    delivery.save()
    return delivery


def _queue_delivery(delivery_id: int) -> None:
    from notices.tasks import deliver_webhook

    deliver_webhook.delay(delivery_id)


def webhook_signature(*, secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256(secret, "<event id>.<timestamp>.<body>")>`` (the Standard Webhooks form)."""
    message = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_backoff(attempts: int) -> float:
    """Seconds before the next attempt: exponential in the attempts so far, capped, with full jitter."""
    ceiling = min(
        conf("NOTICE_WEBHOOK_BACKOFF_MAX"), conf("NOTICE_WEBHOOK_BACKOFF_BASE") * 2 ** (attempts - 1)
    )
    return random.SystemRandom().uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class AttemptOutcome:
    state: str
    retry_in: float | None = None


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    try:
        with httpx.Client(timeout=conf("NOTICE_WEBHOOK_TIMEOUT"), follow_redirects=False) as http:
            response = http.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return None, "timeout"
    except httpx.TransportError:
        return None, "connect"
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"http_{response.status_code}"


def webhook_attempt(*, delivery_id: int) -> AttemptOutcome:
    """One delivery attempt: delivered, to be retried (and when), or dead-lettered after the last one.

    Safe to run twice: a delivered or dead delivery is left alone, and the agency can recognise a
    repeated event by its id.
    """
    delivery = WebhookDelivery.objects.select_related("client").filter(pk=delivery_id).first()
    if delivery is None or delivery.state in {DeliveryState.DELIVERED, DeliveryState.DEAD}:
        return AttemptOutcome(state=delivery.state if delivery else "gone")
    client = delivery.client
    started = timezone.now()
    if client.webhook_url and client.webhook_secret and client.active:
        body = delivery.payload.encode()
        timestamp = int(time.time())
        event_id = str(delivery.public_id)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "myna-portal-webhook/1",
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": webhook_signature(
                secret=client.webhook_secret, event_id=event_id, timestamp=timestamp, body=body
            ),
        }
        status, error = _post(client.webhook_url, body, headers)
    else:
        status, error = None, "no_webhook"

    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        if delivery.state in {DeliveryState.DELIVERED, DeliveryState.DEAD}:
            return AttemptOutcome(state=delivery.state)
        delivery.attempts += 1
        delivery.last_attempt_at = started
        delivery.last_status = status
        delivery.last_error = error
        retry_in = None
        if not error:
            delivery.state = DeliveryState.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
        elif delivery.attempts >= conf("NOTICE_WEBHOOK_MAX_ATTEMPTS"):
            delivery.state = DeliveryState.DEAD
            delivery.next_attempt_at = None
            logger.warning(
                "webhook delivery %s dead after %s attempts (%s)", delivery.pk, delivery.attempts, error
            )
        else:
            retry_in = webhook_backoff(delivery.attempts)
            # The next attempt is queued by the lost-task sweep (webhook_send_again) once this time has come.
            delivery.state = DeliveryState.RETRYING
            delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=retry_in)
        delivery.save()
    return AttemptOutcome(state=delivery.state, retry_in=retry_in)


@transaction.atomic
def webhook_retry(*, delivery_id: int) -> WebhookDelivery:
    """Staff: send a dead-lettered (or waiting) delivery again, with a fresh allowance of attempts."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
    if delivery.state != DeliveryState.DELIVERED:
        delivery.state = DeliveryState.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = timezone.now() + lost_task_stall()
        delivery.save(update_fields=["state", "attempts", "next_attempt_at"])
        transaction.on_commit(lambda: _queue_delivery(delivery.pk), robust=True)
    return delivery


def webhooks_owed(*, cutoff: dt.datetime, now: dt.datetime) -> QuerySet[WebhookDelivery]:
    """Deliveries whose next attempt is due: a retry whose back-off is over, or a delivery whose queued
    task did not attempt it within a stall (``next_attempt_at`` is a stall after it was queued: the task
    was lost). The lost-task sweep's kind ``notices.webhook``; delivered and dead ones are never owed."""
    return (
        WebhookDelivery.objects.filter(
            state__in=[DeliveryState.PENDING, DeliveryState.RETRYING], next_attempt_at__lte=now
        )
        .only("pk", "state")  # the payload is never decrypted here
        .order_by("next_attempt_at")
    )


def webhook_send_again(delivery: WebhookDelivery, *, now: dt.datetime) -> str:
    """Queues the delivery's next attempt, its next attempt moved a stall ahead so the next sweep waits.

    Long back-offs wait here, in the database, not as delayed messages a broker might redeliver. A copy
    of the task that turns up late does nothing to a delivered delivery, and the agency recognises a
    repeated event by its id. A retry whose back-off ended is routine (:data:`RELEASED`); a delivery
    never attempted lost its task. (A retry whose queued task was lost again counts as released.)
    """
    from notices.tasks import deliver_webhook

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now + lost_task_stall())
    deliver_webhook.delay(delivery.pk)
    return RELEASED if delivery.state == DeliveryState.RETRYING else SENT_AGAIN
