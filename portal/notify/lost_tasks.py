"""The owed work of notifications that a lost task would leave undone (portal.core.lost_tasks): pushes and
mails to residents, queued and lost on the way to a worker, or held (quiet hours, a deferred disclosure)
and now due. Deliveries go in batches, so one sweep sends up to a minute's worth of them together."""

from portal.core.lost_tasks import LostTaskKind, lost_task_kind
from portal.notify.services import SWEEP_DELIVERIES, deliveries_owed, deliveries_send_again

lost_task_kind(
    LostTaskKind(
        name="notify.delivery",
        owed=deliveries_owed,
        send_again_many=deliveries_send_again,
        batch=SWEEP_DELIVERIES,
        tasks=("notify.send_deliveries", "notify.send_delivery"),
    )
)
