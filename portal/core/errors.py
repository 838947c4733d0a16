"""The one domain error type: services raise it, pages and APIs render it in one place each."""

from dataclasses import dataclass, field


@dataclass
class PortalError(Exception):
    """A refusal a person should read: a stable code, a message in Japanese and English, an HTTP status."""

    code: str
    message_ja: str
    message_en: str
    status: int = 400
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message_en}"

    def as_json(self) -> dict:
        return {"error": self.code, "message": {"ja": self.message_ja, "en": self.message_en}, **self.extra}
