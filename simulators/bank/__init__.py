"""さくら銀行 (Sakura Bank): the sample firm, a client of the portal's consent API for the demo and tests.

It asks a resident, through the portal, for their income and name for a mortgage pre-screening, with
authlib's OAuth 2.0 client: pushed authorization request, PKCE, private_key_jwt, DPoP-bound tokens, a
verified ID token, and the portal's consent-ended notices (docs/consent-api.md).

This package must never import the Django portal (``portal``, ``api``, ``notices``): it speaks HTTP only,
as any firm would. ``python -m simulators.bank --help`` lists its commands.
"""

from simulators.bank.config import Settings
from simulators.bank.runner import RunningBank, running_bank
from simulators.bank.web import create_app

__all__ = ["RunningBank", "Settings", "create_app", "running_bank"]
