"""The owed work of firms that a lost task would leave undone (portal.core.lost_tasks): the e-mail that
tells a firm of an event."""

from portal.core.lost_tasks import LostTaskKind, lost_task_kind
from portal.firms.services import event_mail_send_again, event_mails_owed

lost_task_kind(
    LostTaskKind(
        name="firms.event_mail",
        owed=event_mails_owed,
        send_again=event_mail_send_again,
        tasks=("firms.send_event_mail",),
    )
)
