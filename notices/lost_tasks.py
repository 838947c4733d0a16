"""The owed work of the notice inbox that a lost task would leave undone (portal.core.lost_tasks): telling
the recipients that a notice arrived. Webhook deliveries have their own sweep (send_due_webhooks)."""

from notices.services import notice_announce_send_again, notices_unannounced
from portal.core.lost_tasks import LostTaskKind, lost_task_kind

lost_task_kind(
    LostTaskKind(
        name="notices.announce",
        owed=notices_unannounced,
        send_again=notice_announce_send_again,
        tasks=("notices.announce_notice",),
    )
)
