"""Request bodies refused by their declared length before they are read, so an oversized one never is."""

from django.http import HttpRequest


def declared_length_fits(request: HttpRequest, max_bytes: int) -> bool:
    """Whether the request declares a readable Content-Length of at most ``max_bytes`` (none counts as 0).

    ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    """
    declared = request.META.get("CONTENT_LENGTH") or "0"
    return declared.isascii() and declared.isdigit() and int(declared) <= max_bytes
