"""The owed work of proxies that a lost task would leave undone (portal.core.lost_tasks): registrations of
medical-scope proxies with the insurer, and their withdrawals."""

from portal.core.lost_tasks import LostTaskKind, lost_task_kind
from portal.proxies import insurer

lost_task_kind(
    LostTaskKind(
        name="proxies.insurer_registration",
        owed=insurer.insurer_registrations_owed,
        send_again=insurer.insurer_registration_resend,
        tasks=("proxies.register_with_insurer",),
    )
)
lost_task_kind(
    LostTaskKind(
        name="proxies.insurer_withdrawal",
        owed=insurer.insurer_withdrawals_owed,
        send_again=insurer.insurer_withdrawal_resend,
        tasks=("proxies.withdraw_from_insurer",),
    )
)
