"""The proxies app's reactions to other apps' events."""

from typing import Any

from portal.proxies import services


def hold_proxies_of_revoked_cards(sender: Any, resident_ids: list[int], **kwargs: Any) -> None:
    services.grants_hold_for_review(principal_ids=resident_ids)
