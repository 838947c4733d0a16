"""Read-only queries of the consent pages."""

from portal.consents.models import Consent
from portal.identity.models import Resident


def consents_of(*, resident: Resident) -> list[Consent]:
    """Every consent the resident gave, active ones first, newest first within each."""
    consents = list(Consent.objects.filter(resident=resident).select_related("firm").order_by("-starts_at"))
    consents.sort(key=lambda c: c.state != "active")
    return consents
