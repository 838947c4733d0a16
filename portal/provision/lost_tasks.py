"""The owed work of the information-provision records that a lost task would leave undone
(portal.core.lost_tasks): a refresh the history page asked for."""

from portal.core.lost_tasks import LostTaskKind, lost_task_kind
from portal.provision.services import provision_refresh_send_again, provision_refreshes_owed

lost_task_kind(
    LostTaskKind(
        name="provision.refresh",
        owed=provision_refreshes_owed,
        send_again=provision_refresh_send_again,
        tasks=("provision.refresh_records",),
    )
)
