"""Signals of the identity app: other apps react to a resident's card without identity importing them."""

from django.dispatch import Signal

# A certificate of these residents' cards is now on the CA's revocation list. Sent with resident_ids.
card_revoked = Signal()
