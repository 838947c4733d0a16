"""What the consent side does when staff change what a firm may do (portal.firms.signals).

A suspension needs nothing here: every use of a token checks its firm again, so the next call fails.
A change of controller ends every active consent, in a task (a large firm has many); should that task be
lost, the change says the ending is still owed and the lost-task sweep sends it again.
"""

from typing import Any

from django.db import transaction

from portal.firms.models import ControllerChange, Firm


def consents_end_on_controller_change(
    sender: Any, firm: Firm, change: ControllerChange, **kwargs: Any
) -> None:
    from portal.consents.tasks import end_for_controller_change

    transaction.on_commit(
        lambda: end_for_controller_change.delay(
            firm_id=firm.pk, new_legal_name=change.new_legal_name, change_id=change.pk
        ),
        robust=True,
    )
