"""The owed work of the notice inbox that a lost task would leave undone (portal.core.lost_tasks): telling
the recipients that a notice arrived, and delivering an answer to the agency's webhook (whose retries
wait in the database for their back-off, and are queued by the same sweep when it ends)."""

from notices.services import (
    notice_announce_send_again,
    notices_unannounced,
    webhook_send_again,
    webhooks_owed,
)
from portal.core.lost_tasks import LostTaskKind, lost_task_kind

lost_task_kind(
    LostTaskKind(
        name="notices.announce",
        owed=notices_unannounced,
        send_again=notice_announce_send_again,
        tasks=("notices.announce_notice",),
    )
)
lost_task_kind(
    LostTaskKind(
        name="notices.webhook",
        owed=webhooks_owed,
        send_again=webhook_send_again,
        tasks=("notices.deliver_webhook",),
    )
)
