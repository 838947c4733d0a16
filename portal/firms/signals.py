"""What other apps hear when staff change what a firm may do. Each is sent once the change has committed
(transaction.on_commit), with sender=Firm:

- firm_suspended(firm): the firm may do nothing more; its tokens must stop working at once.
- firm_unsuspended(firm): the suspension was lifted; consents that are still active work again.
- controller_changed(firm, change): the firm's data passed to another controller (`change` is the
  ControllerChange, `firm` already carries the new legal name and corporate number); every active consent
  must end (reason `controller_changed`), its resident be told and asked to consent again.

Receivers run in the sending request after the commit: they must be quick (queue a task for slow work)
and idempotent, since staff may repeat a decision after a failure. An exception in one reaches staff.
"""

from django.dispatch import Signal

firm_suspended = Signal()
firm_unsuspended = Signal()
controller_changed = Signal()
