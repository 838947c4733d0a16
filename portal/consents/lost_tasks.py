"""The owed work of the consent side that a lost task would leave undone (portal.core.lost_tasks): telling
a firm that a consent ended, and ending the consents of a firm whose controller changed."""

from portal.consents import services
from portal.core.lost_tasks import LostTaskKind, lost_task_kind

lost_task_kind(
    LostTaskKind(
        name="consents.firm_told_of_end",
        owed=services.consent_firm_tells_owed,
        send_again=services.consent_firm_tell_send_again,
        tasks=("consents.tell_firm_consent_ended",),
    )
)
lost_task_kind(
    LostTaskKind(
        name="consents.controller_change",
        owed=services.controller_changes_owed,
        send_again=services.controller_change_send_again,
        tasks=("consents.end_for_controller_change",),
    )
)
