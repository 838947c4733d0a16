"""The owed work of the public-fund account that a lost task would leave undone (portal.core.lost_tasks):
the bank's check of an application."""

from portal.account.services import account_check_send_again, account_checks_owed
from portal.core.lost_tasks import LostTaskKind, lost_task_kind

lost_task_kind(
    LostTaskKind(
        name="account.bank_check",
        owed=account_checks_owed,
        send_again=account_check_send_again,
        tasks=("account.check_with_bank",),
    )
)
