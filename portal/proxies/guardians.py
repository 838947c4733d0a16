"""Adult guardians (成年後見人): the application with the court registry certificate, staff approval that
makes a full-scope grant, and the end of the grant when the registration is withdrawn.

Never let a guardian act before staff have matched the certificate to the ward's user folder.
"""

import datetime as dt
import hashlib
import re
import uuid

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from notices.attachments import attachment_decrypt, attachment_encrypt
from portal.core.errors import PortalError
from portal.identity.models import Resident, User
from portal.proxies.insurer import insurer_registration_open, insurer_registrations_withdraw
from portal.proxies.models import (
    EndedBy,
    GrantKind,
    GrantState,
    GuardianApplication,
    GuardianState,
    ProxyGrant,
)
from portal.proxies.scopes import SCOPE_CODES

CERTIFICATE_KIND = "proxies.GuardianApplication.certificate"
CERTIFICATE_MAX_BYTES = 5 * 1024 * 1024
# A guardianship lasts until the court's registration ends; staff end the grant when it is withdrawn.
NO_END = dt.date(9999, 12, 31)
REGISTRY_NUMBER = re.compile(r"[0-9A-Za-z０-９第号\-－ 　]{1,40}")


def _invalid(code: str, ja: str, en: str, status: int = 422) -> PortalError:
    return PortalError(code, ja, en, status)


def certificate_read(upload: UploadedFile | None) -> bytes:
    """The PDF's bytes, or a clear refusal (no file, not a PDF, too large)."""
    if upload is None:
        raise _invalid(
            "certificate_required",
            "登記事項証明書（PDF）を選んでください。",
            "Choose the certificate of registered matters (PDF).",
        )
    if upload.size is None or upload.size > CERTIFICATE_MAX_BYTES:
        raise _invalid(
            "certificate_too_large",
            "証明書のファイルが大きすぎます（上限 5 MB）。",
            "The certificate file is too large (at most 5 MB).",
            413,
        )
    content = upload.read(CERTIFICATE_MAX_BYTES + 1)
    if not content.startswith(b"%PDF-") or b"%%EOF" not in content[-1024:]:
        raise _invalid(
            "certificate_not_pdf",
            "証明書のファイルがPDFではありません。PDFを選んでください。",
            "The certificate file is not a PDF. Choose a PDF.",
        )
    return content


@transaction.atomic
def guardian_apply(
    *, guardian: Resident, ward_name: str, ward_birth_date: dt.date, registry_number: str, certificate: bytes
) -> GuardianApplication:
    ward_name = " ".join(ward_name.split())
    if not 1 <= len(ward_name) <= 100:
        raise _invalid(
            "ward_name_required",
            "ご本人の氏名を入力してください。",
            "Enter the name of the person you act for.",
        )
    if ward_birth_date >= timezone.localdate():
        raise _invalid("ward_birth_date", "生年月日が正しくありません。", "The birth date is not valid.")
    if not REGISTRY_NUMBER.fullmatch(registry_number.strip()):
        raise _invalid(
            "registry_number",
            "登記番号を証明書のとおりに入力してください（例: 第2026-1234号）。",
            "Enter the registration number as on the certificate (for example 第2026-1234号).",
        )
    public_id = uuid.uuid4()
    key_id, sealed = attachment_encrypt(certificate, public_id=public_id, kind=CERTIFICATE_KIND)
    return GuardianApplication.objects.create(
        public_id=public_id,
        guardian=guardian,
        ward_name=ward_name,
        ward_birth_date=ward_birth_date,
        registry_number=registry_number.strip(),
        certificate_key_id=key_id,
        certificate=sealed,
        certificate_sha256=hashlib.sha256(certificate).hexdigest(),
    )


def certificate_of(application: GuardianApplication) -> bytes:
    return attachment_decrypt(
        bytes(application.certificate),
        key_id=application.certificate_key_id,
        public_id=application.public_id,
        kind=CERTIFICATE_KIND,
    )


@transaction.atomic
def guardian_approve(*, application_id: int, staff: User) -> GuardianApplication:
    """Staff linked the ward named on the certificate (`ward`): the guardian acts with full scope."""
    application = GuardianApplication.objects.select_for_update().get(pk=application_id)
    if application.state != GuardianState.SUBMITTED:
        return application
    if application.ward_id is None:
        raise _invalid(
            "ward_not_linked",
            "承認の前に、証明書のご本人（利用者フォルダ）を選んでください。",
            "Before approving, link the ward's user folder named on the certificate.",
            409,
        )
    if application.ward_id == application.guardian_id:
        raise _invalid(
            "self_guardian", "ご本人と後見人が同じです。", "The ward and the guardian are the same.", 409
        )
    now = timezone.now()
    application.grant = ProxyGrant.objects.create(
        kind=GrantKind.GUARDIAN,
        principal_id=application.ward_id,
        proxy_id=application.guardian_id,
        scopes=sorted(SCOPE_CODES),
        state=GrantState.ACTIVE,
        ends_on=NO_END,
        accepted_at=now,
        confirmed_at=now,
    )
    insurer_registration_open(grant=application.grant)
    application.state = GuardianState.APPROVED
    application.decided_at = now
    application.save(update_fields=["grant", "state", "decided_at"])
    return application


@transaction.atomic
def guardian_reject(*, application_id: int, staff: User) -> GuardianApplication:
    application = GuardianApplication.objects.select_for_update().get(pk=application_id)
    if application.state == GuardianState.SUBMITTED:
        application.state = GuardianState.REJECTED
        application.decided_at = timezone.now()
        application.save(update_fields=["state", "decided_at"])
    return application


@transaction.atomic
def guardian_withdraw(*, application_id: int, staff: User) -> GuardianApplication:
    """The court registration ended: the guardianship and its grant end at once."""
    application = GuardianApplication.objects.select_for_update().get(pk=application_id)
    if application.state != GuardianState.APPROVED:
        return application
    if application.grant_id is not None:
        ProxyGrant.objects.filter(pk=application.grant_id).exclude(state=GrantState.ENDED).update(
            state=GrantState.ENDED, ended_at=timezone.now(), ended_by=EndedBy.STAFF
        )
        insurer_registrations_withdraw(grant_ids=[application.grant_id])
    application.state = GuardianState.WITHDRAWN
    application.decided_at = timezone.now()
    application.save(update_fields=["state", "decided_at"])
    return application
