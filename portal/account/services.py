"""Writes of the public-fund account (公金受取口座): apply, bank check, delete, review, agency look-up.

Never store an account the bank has not confirmed, never register one whose holder is not the resident
(SPEC 2.6), never give an agency an account under review, and record every release before it happens.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from notices.models import AgencyClient
from notices.services import portal_notice_send, resident_for_agency_code
from portal.account import banks, kana
from portal.account.models import (
    AccountApplication,
    AccountEvent,
    AccountType,
    ApplicationKind,
    ApplicationState,
    BankResult,
    EventActor,
    EventKind,
    PublicFundAccount,
    ReviewState,
    mask_number,
)
from portal.agencies.client import AgencyError, AgencyUnavailable, agency_post
from portal.agencies.codes import agency_registry
from portal.core.crypto import lookup_hash
from portal.core.errors import PortalError
from portal.core.lost_tasks import SENT_AGAIN
from portal.history.models import Channel
from portal.history.services import Actor, release_record
from portal.identity.models import Resident, User
from portal.identity.services import StepUpProof

logger = logging.getLogger(__name__)

BANK_CHECK_AGENCY = "bank-check"
REGISTER_ACT = "account.register"
DELETE_ACT = "account.delete"
LOOKUP_ITEMS = ["bank", "branch", "account_type", "account_number", "holder_kana"]
LEGAL_BASIS = (
    "公金受取口座登録法（公的給付の支給等の迅速かつ確実な実施のための預貯金口座の登録等に関する法律）"
)
PURPOSE_MAX = 200
BANK_ANSWERS = frozenset(
    {BankResult.MATCH, BankResult.NAME_MISMATCH, BankResult.NO_ACCOUNT, BankResult.ACCOUNT_CLOSED}
)


@dataclass(frozen=True)
class AccountDetails:
    """An account as checked on the portal's side: known bank and branch, digits, the resident's own kana."""

    bank_code: str
    branch_code: str
    account_type: str
    number: str
    holder_kana: str

    def payload(self) -> dict[str, str]:
        """What the resident signs: every field, exactly."""
        return {
            "bank_code": self.bank_code,
            "branch_code": self.branch_code,
            "account_type": self.account_type,
            "account_number": self.number,
            "holder_kana": self.holder_kana,
        }

    def describe(self) -> dict[str, str]:
        """Bank, branch, type and the masked number: what a history entry or a page may show."""
        return account_description(self.bank_code, self.branch_code, self.account_type, self.number)


def account_description(bank_code: str, branch_code: str, account_type: str, number: str) -> dict[str, str]:
    bank = banks.bank_get(bank_code)
    branch = banks.branch_get(bank_code, branch_code)
    return {
        "bank_code": bank_code,
        "bank_name": bank.name if bank else "",
        "branch_code": branch_code,
        "branch_name": branch.name if branch else "",
        "account_type": account_type,
        "number_masked": mask_number(number),
    }


def description_of(account: PublicFundAccount) -> dict[str, str]:
    return account_description(account.bank_code, account.branch_code, account.account_type, account.number)


def _invalid(code: str, ja: str, en: str, field_name: str) -> PortalError:
    return PortalError(code, ja, en, 422, extra={"field": field_name})


def account_details_check(
    *,
    resident: Resident,
    bank_code: str,
    branch_code: str = "",
    account_type: str = "",
    number: str = "",
    holder_kana: str = "",
    japan_post_symbol: str = "",
    japan_post_number: str = "",
) -> AccountDetails:
    """Every check the portal can make before asking the bank; raises PortalError, stores nothing.

    A Japan Post Bank account may be given as its 記号・番号, which becomes branch, type and number.
    The holder's kana must be the resident's own name: an account in a family member's name is refused
    here, before the bank is asked (the 2023 lesson, SPEC 2.6).
    """
    bank = banks.bank_code_check(bank_code)
    if bank.code == banks.JAPAN_POST_BANK_CODE and (japan_post_symbol or japan_post_number):
        branch_code, account_type, number = banks.japan_post_convert(japan_post_symbol, japan_post_number)
    branch = banks.branch_code_check(bank.code, branch_code)
    if account_type not in AccountType.values:
        raise _invalid(
            "account_type_invalid",
            "預金の種類（普通・当座・貯蓄）を選んでください。",
            "Choose the kind of account: ordinary, current or savings.",
            "account_type",
        )
    number = banks.account_number_check(number)
    holder = kana.holder_kana_clean(holder_kana)
    if not kana.kana_names_match(holder, resident.name_kana):
        raise _invalid(
            "holder_not_resident",
            "公金受取口座には、ご本人名義の口座だけを登録できます。口座名義（カナ）がマイナンバーカードの"
            f"氏名（{resident.name_kana}）と一致しません。ご家族など他の方の名義の口座は登録できません。",
            "Only an account in your own name can be registered for public payments. The account holder's "
            f"name in kana does not match the name on your My Number Card ({resident.name_kana}). An account "
            "in a family member's or anyone else's name cannot be registered.",
            "holder_kana",
        )
    return AccountDetails(bank.code, branch.code, account_type, number, holder)


def number_hash(details: AccountDetails) -> str:
    return lookup_hash(
        f"{details.bank_code}:{details.branch_code}:{details.account_type}:{details.number}",
        purpose="public_fund_account",
    )


def _event(
    *,
    resident: Resident,
    kind: str,
    actor: str,
    details: dict[str, Any],
    actor_ref: str = "",
    proof: AccountApplication | StepUpProof | None = None,
) -> AccountEvent:
    signature: dict[str, Any] = {}
    if proof is not None:
        # The signature of the step-up just confirmed, or of the application that kept it.
        request_id = proof.request_id if isinstance(proof, StepUpProof) else proof.signing_request_id
        signature = {
            "signing_request_id": request_id,
            "act_digest": proof.act_digest,
            "signer_serial_hash": proof.signer_serial_hash,
            "signed_at": proof.signed_at,
        }
    return AccountEvent.objects.create(
        resident=resident,
        kind=kind,
        actor=actor,
        actor_ref=actor_ref,
        details=details,
        at=timezone.now(),
        **signature,
    )


# --- the resident's acts -------------------------------------------------------------------------------


def _wrong_act() -> PortalError:
    return PortalError(
        "stepup_mismatch", "署名の内容が一致しません。", "The signature is for another act.", 403
    )


@transaction.atomic
def account_apply(*, resident: Resident, details: AccountDetails, proof: StepUpProof) -> AccountApplication:
    """Keeps the signed request and asks the bank (after commit); the account changes only on a match.

    An application still at the bank is superseded: the newest signed request is the resident's wish.
    """
    if proof.act != REGISTER_ACT:
        raise PortalError(
            "stepup_mismatch", "署名の内容が一致しません。", "The signature is for another act.", 403
        )
    Resident.objects.select_for_update().filter(pk=resident.pk).first()
    superseded = AccountApplication.objects.filter(resident=resident, state=ApplicationState.CHECKING).update(
        state=ApplicationState.SUPERSEDED, number="", decided_at=timezone.now()
    )
    if superseded:
        logger.info("account application superseded for resident %s", resident.pk)
    has_account = PublicFundAccount.objects.filter(resident=resident).exists()
    application = AccountApplication.objects.create(
        resident=resident,
        kind=ApplicationKind.CHANGE if has_account else ApplicationKind.REGISTER,
        bank_code=details.bank_code,
        branch_code=details.branch_code,
        account_type=details.account_type,
        number=details.number,
        number_masked=mask_number(details.number),
        holder_kana=details.holder_kana,
        signing_request_id=proof.request_id,
        act_digest=proof.act_digest,
        signer_serial_hash=proof.signer_serial_hash,
        signed_at=proof.signed_at,
    )
    _event(
        resident=resident,
        kind=EventKind.APPLIED,
        actor=EventActor.RESIDENT,
        details=details.describe(),
        proof=proof,
    )
    transaction.on_commit(lambda: _queue_bank_check(application.pk), robust=True)
    return application


def _queue_bank_check(application_id: int) -> None:
    from portal.account.tasks import check_with_bank

    check_with_bank.delay(application_id)


def account_checks_owed(*, cutoff: datetime, now: datetime) -> QuerySet[AccountApplication]:
    """Applications at the bank with no sign of life (made, tried, sent again) since ``cutoff``: the
    check's task was lost. Retries that ran out end the application, so only lost work is left here."""
    return AccountApplication.objects.filter(
        Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lte=cutoff),
        Q(resent_at__isnull=True) | Q(resent_at__lte=cutoff),
        state=ApplicationState.CHECKING,
        created_at__lte=cutoff,
    ).order_by("created_at")


def account_check_send_again(application: AccountApplication, *, now: datetime) -> str:
    """Sends a lost bank check again: the bank gets the same Idempotency-Key, and the answer is applied
    once (an application no longer at the bank is left alone)."""
    AccountApplication.objects.filter(pk=application.pk).update(resent_at=now)
    _queue_bank_check(application.pk)
    return SENT_AGAIN


@transaction.atomic
def account_delete(*, resident: Resident, proof: StepUpProof) -> None:
    """Deletes the account (signed); payments then need a new registration. Told to the resident."""
    if proof.act != DELETE_ACT:
        raise PortalError(
            "stepup_mismatch", "署名の内容が一致しません。", "The signature is for another act.", 403
        )
    account = PublicFundAccount.objects.select_for_update().filter(resident=resident).first()
    if account is None:
        raise PortalError("no_account", "登録されている口座はありません。", "No account is registered.", 404)
    description = description_of(account)
    account.delete()
    # An application still at the bank was made before this signed wish: it must not bring an account back.
    AccountApplication.objects.filter(resident=resident, state=ApplicationState.CHECKING).update(
        state=ApplicationState.SUPERSEDED, number="", decided_at=timezone.now()
    )
    _event(
        resident=resident, kind=EventKind.DELETED, actor=EventActor.RESIDENT, details=description, proof=proof
    )
    _tell(resident, f"deleted:{proof.request_id}", EventKind.DELETED)


def delete_payload(account: PublicFundAccount) -> dict[str, str]:
    return {"account": str(account.public_id), "number_hash": account.number_hash}


# --- the bank's answer ---------------------------------------------------------------------------------


def account_check_with_bank(*, application_id: int) -> str:
    """Asks the bank whether the account is open and in the resident's name, then applies the answer.

    Safe to run twice: an application that is no longer at the bank is left alone. Raises
    AgencyUnavailable when the bank cannot be reached, for the task to retry.
    """
    application = AccountApplication.objects.filter(pk=application_id).first()
    if application is None or application.state != ApplicationState.CHECKING:
        return "done"
    AccountApplication.objects.filter(pk=application_id).update(
        attempts=F("attempts") + 1, last_attempt_at=timezone.now()
    )
    try:
        answer = agency_post(
            agency_id=BANK_CHECK_AGENCY,
            path="account-name-checks",
            body={
                "bank_code": application.bank_code,
                "branch_code": application.branch_code,
                "account_type": application.account_type,
                "account_number": application.number,
                "holder_kana": application.holder_kana,
            },
            idempotency_key=str(application.public_id),
        )
    except AgencyUnavailable:
        raise
    except AgencyError as exc:
        logger.warning("bank check refused for application %s: %s", application_id, exc.code)
        return account_bank_answer(application_id=application_id, result=BankResult.UNAVAILABLE)
    result = answer.get("result")
    if result not in {
        BankResult.MATCH,
        BankResult.NAME_MISMATCH,
        BankResult.NO_ACCOUNT,
        BankResult.ACCOUNT_CLOSED,
    }:
        logger.warning("bank check answer malformed for application %s", application_id)
        result = BankResult.UNAVAILABLE
    return account_bank_answer(application_id=application_id, result=str(result))


@transaction.atomic
def account_bank_answer(*, application_id: int, result: str) -> str:
    """Applies the bank's answer once: a match registers or replaces the account; anything else erases."""
    application = (
        AccountApplication.objects.select_for_update()
        .select_related("resident")
        .filter(pk=application_id)
        .first()
    )
    if application is None or application.state != ApplicationState.CHECKING:
        return "done"
    resident = application.resident
    now = timezone.now()
    description = description_of(application)
    application.bank_result = result
    application.decided_at = now
    if result != BankResult.MATCH:
        application.state = (
            ApplicationState.FAILED if result == BankResult.UNAVAILABLE else ApplicationState.REFUSED
        )
        application.number = ""
        application.save(update_fields=["bank_result", "decided_at", "state", "number"])
        kind = EventKind.FAILED if result == BankResult.UNAVAILABLE else EventKind.REFUSED
        _event(
            resident=resident,
            kind=kind,
            actor=EventActor.BANK,
            details={**description, "bank_result": result},
        )
        _tell(resident, f"{kind}:{application.public_id}", kind)
        return application.state

    details = AccountDetails(
        application.bank_code,
        application.branch_code,
        application.account_type,
        application.number,
        application.holder_kana,
    )
    account = PublicFundAccount.objects.select_for_update().filter(resident=resident).first()
    kind = EventKind.CHANGED if account is not None else EventKind.REGISTERED
    if account is None:
        account = PublicFundAccount(resident=resident, registered_at=now)
    account.bank_code = details.bank_code
    account.branch_code = details.branch_code
    account.account_type = details.account_type
    account.number = details.number
    account.number_hash = number_hash(details)
    account.holder_kana = details.holder_kana
    account.verified_at = now
    account.updated_at = now
    account.review_state = ReviewState.NONE
    account.flagged_at = None
    account.save()
    application.state = ApplicationState.VERIFIED
    application.save(update_fields=["bank_result", "decided_at", "state"])
    _event(resident=resident, kind=kind, actor=EventActor.RESIDENT, details=description, proof=application)
    _tell(resident, f"{kind}:{application.public_id}", kind)
    _flag_duplicates(account)
    return application.state


def account_check_gave_up(*, application_id: int) -> None:
    """The bank stayed unreachable through every retry: the resident is told to try again later."""
    account_bank_answer(application_id=application_id, result=BankResult.UNAVAILABLE)


def _flag_duplicates(account: PublicFundAccount) -> None:
    """The same account under another resident: both wait for staff, and agencies get neither."""
    others = list(
        PublicFundAccount.objects.select_for_update()
        .filter(number_hash=account.number_hash)
        .exclude(pk=account.pk)
        .select_related("resident")
    )
    if not others:
        return
    now = timezone.now()
    for flagged in (account, *others):
        flagged.review_state = ReviewState.FLAGGED
        flagged.flagged_at = now
        flagged.save(update_fields=["review_state", "flagged_at"])
        _event(
            resident=flagged.resident,
            kind=EventKind.FLAGGED,
            actor=EventActor.PORTAL,
            details=description_of(flagged),
        )
    logger.warning("public-fund account registered by %s residents: flagged for review", len(others) + 1)


# --- staff review --------------------------------------------------------------------------------------


@transaction.atomic
def account_review_clear(*, account_id: int, staff: User) -> None:
    """Staff found the registration right: agencies may use it again."""
    account = PublicFundAccount.objects.select_for_update().select_related("resident").get(pk=account_id)
    if account.review_state != ReviewState.FLAGGED:
        return
    account.review_state = ReviewState.CLEARED
    account.save(update_fields=["review_state"])
    _event(
        resident=account.resident,
        kind=EventKind.CLEARED,
        actor=EventActor.STAFF,
        actor_ref=f"staff:{staff.pk}",
        details=description_of(account),
    )
    _tell(account.resident, f"cleared:{account.public_id}:{account.flagged_at}", EventKind.CLEARED)


@transaction.atomic
def account_review_remove(*, account_id: int, staff: User) -> None:
    """Staff found the registration wrong: the account is removed and the resident told to register again."""
    account = (
        PublicFundAccount.objects.select_for_update().select_related("resident").filter(pk=account_id).first()
    )
    if account is None:
        return
    resident = account.resident
    description = description_of(account)
    account.delete()
    _event(
        resident=resident,
        kind=EventKind.REMOVED,
        actor=EventActor.STAFF,
        actor_ref=f"staff:{staff.pk}",
        details=description,
    )
    _tell(resident, f"removed:{account.public_id}", EventKind.REMOVED)


# --- agencies ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountForAgency:
    bank_code: str
    bank_name: str
    branch_code: str
    branch_name: str
    account_type: str
    number: str
    holder_kana: str
    verified_at: Any


def _lookup_refused(code: str, ja: str, en: str, status: int) -> PortalError:
    return PortalError(code, ja, en, status)


def account_lookup_for_agency(*, client: AgencyClient, agency_code: str, purpose: str) -> AccountForAgency:
    """The verified, unflagged account of the resident the agency knows by this code, for this payment.

    The release is recorded in the resident's history before the account is returned (SPEC 2.3).
    """
    purpose = purpose.strip() if isinstance(purpose, str) else ""
    if not purpose or len(purpose) > PURPOSE_MAX or not purpose.isprintable():
        raise _lookup_refused(
            "purpose_required",
            f"照会の目的（支給する給付の名称など）を{PURPOSE_MAX}文字以内で指定してください。",
            f"State the purpose of the look-up (the payment it is for) in at most {PURPOSE_MAX} characters.",
            422,
        )
    resident = resident_for_agency_code(agency_id=client.agency_id, code=agency_code) if agency_code else None
    if resident is None:
        raise _lookup_refused(
            "unknown_code",
            "この機関別符号に該当する利用者はいません。",
            "No resident is known by this agency code.",
            404,
        )
    account = PublicFundAccount.objects.filter(resident=resident).first()
    if account is None:
        raise _lookup_refused(
            "account_not_registered",
            "この方は公金受取口座を登録していません。",
            "This resident has not registered a public-fund account.",
            404,
        )
    if not account.usable:
        raise _lookup_refused(
            "account_under_review",
            "この口座は確認中のため提供できません。",
            "This account is being reviewed by portal staff and cannot be given out until they decide.",
            409,
        )
    agency = agency_registry().get(client.agency_id)
    release_record(
        owner=resident,
        actor=Actor.for_agency(client.agency_id, agency.name_ja if agency else client.name),
        category="public_fund_account",
        items=LOOKUP_ITEMS,
        purpose=purpose,
        channel=Channel.AGENCY_API,
        legal_basis=LEGAL_BASIS,
    )
    bank = banks.bank_get(account.bank_code)
    branch = banks.branch_get(account.bank_code, account.branch_code)
    return AccountForAgency(
        bank_code=account.bank_code,
        bank_name=bank.name if bank else "",
        branch_code=account.branch_code,
        branch_name=branch.name if branch else "",
        account_type=account.account_type,
        number=account.number,
        holder_kana=account.holder_kana,
        verified_at=account.verified_at,
    )


# --- telling the resident ------------------------------------------------------------------------------

_MESSAGES: dict[str, tuple[str, str, str, str]] = {
    EventKind.REGISTERED: (
        "公金受取口座を登録しました",
        "Your public-fund account is registered",
        "公金受取口座の登録が完了しました。金融機関で口座名義を確認済みです。心当たりがない場合は、"
        "マイナポータルの「公金受取口座」で内容を確認し、お問い合わせください。",
        "Your public-fund account is registered; the bank confirmed the account holder's name. If you did "
        "not do this, check it under Public-fund account and contact us.",
    ),
    EventKind.CHANGED: (
        "公金受取口座を変更しました",
        "Your public-fund account was changed",
        "公金受取口座を変更しました。金融機関で口座名義を確認済みです。心当たりがない場合は、"
        "マイナポータルの「公金受取口座」で内容を確認し、お問い合わせください。",
        "Your public-fund account was changed; the bank confirmed the account holder's name. If you did not "
        "do this, check it under Public-fund account and contact us.",
    ),
    EventKind.DELETED: (
        "公金受取口座を削除しました",
        "Your public-fund account was deleted",
        "公金受取口座の登録を削除しました。公的給付を口座で受け取るには、もう一度登録してください。",
        "Your public-fund account was deleted. To receive public payments into an account, register "
        "one again.",
    ),
    EventKind.REFUSED: (
        "公金受取口座を登録できませんでした",
        "Your public-fund account could not be registered",
        "金融機関での確認の結果、申請された口座は登録できませんでした（口座がない、解約済み、または口座名義が"
        "ご本人と一致しない）。口座の内容を確かめて、もう一度申請してください。これまでの登録内容は変わりません。",
        "The bank's check refused the account you applied for (no such account, closed, or not in your "
        "name). Check the details and apply again. Your registration so far is unchanged.",
    ),
    EventKind.FAILED: (
        "公金受取口座の確認ができませんでした",
        "Your public-fund account could not be checked",
        "金融機関に接続できず、申請された口座を確認できませんでした。時間をおいて、もう一度申請してください。"
        "これまでの登録内容は変わりません。",
        "The bank could not be reached to check the account you applied for. Please apply again later. "
        "Your registration so far is unchanged.",
    ),
    EventKind.CLEARED: (
        "公金受取口座の確認が終わりました",
        "The review of your public-fund account is complete",
        "職員による確認が終わり、登録された口座は公的給付に利用できます。",
        "Staff have reviewed your account; it can be used for public payments.",
    ),
    EventKind.REMOVED: (
        "公金受取口座の登録を取り消しました",
        "Your public-fund account registration was withdrawn",
        "職員による確認の結果、登録された口座はご本人の口座と確認できなかったため、登録を取り消しました。"
        "ご本人名義の口座をもう一度登録してください。",
        "After review, staff could not confirm the account as yours, so its registration was withdrawn. "
        "Please register an account in your own name.",
    ),
}


def _tell(resident: Resident, key: str, kind: str) -> None:
    title_ja, title_en, body_ja, body_en = _MESSAGES[kind]
    portal_notice_send(
        resident=resident,
        key=f"account:{key}",
        category="procedure",
        title_ja=title_ja,
        title_en=title_en,
        body_ja=body_ja,
        body_en=body_en,
    )
