"""Input and output shapes of the agency API. Shapes only: the content rules live in notices.services."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notices.categories import NOTICE_CATEGORIES
from notices.models import Action, Notice, NoticeAttachment
from notices.selectors import DeliveryCounts
from notices.services import AttachmentSpec, NoticeDraft, RecipientSpec


class LocalisedTextSerializer(serializers.Serializer):
    ja = serializers.CharField(trim_whitespace=False, help_text="Japanese (required)")
    en = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)


class RecipientSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["resident", "segment", "everyone"])
    agency_code = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="resident: your agency code for them (機関別符号)",
    )
    municipality = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="segment: the start of the address, e.g. 神奈川県横浜市中区",
    )
    min_age = serializers.IntegerField(required=False, allow_null=True, default=None, help_text="segment")
    max_age = serializers.IntegerField(required=False, allow_null=True, default=None, help_text="segment")


class PrefillSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="a property of the form schema")
    # "from" is a Python keyword: declared below.


PrefillSerializer._declared_fields["from"] = serializers.CharField(
    help_text="<category>.<path> in the resident's own information, e.g. household.members"
)


class ActionSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Action.values, default=Action.NONE)
    schema = serializers.JSONField(
        required=False, allow_null=True, default=None, help_text="form: a JSON Schema of an object of fields"
    )
    prefill = PrefillSerializer(many=True, required=False, default=list)
    requires_signature = serializers.BooleanField(
        required=False, default=False, help_text="the answer must be signed with the signature certificate"
    )


class AttachmentInSerializer(serializers.Serializer):
    filename = serializers.CharField(help_text="ends in .pdf")
    content_type = serializers.CharField(help_text="application/pdf")
    content_base64 = serializers.CharField(help_text="the PDF, Base64 (at most 5 MB decoded)")


class NoticeCreateSerializer(serializers.Serializer):
    recipient = RecipientSerializer()
    category = serializers.CharField(help_text="one of: " + ", ".join(c.code for c in NOTICE_CATEGORIES))
    title = LocalisedTextSerializer()
    body = LocalisedTextSerializer(help_text="Markdown subset: paragraphs, **bold**, lists, https links")
    deadline = serializers.DateTimeField(required=False, allow_null=True, default=None)
    action = ActionSerializer(required=False)
    attachments = AttachmentInSerializer(many=True, required=False, default=list)

    def to_draft(self) -> NoticeDraft:
        data: dict[str, Any] = self.validated_data
        action = data.get("action") or {
            "type": Action.NONE,
            "schema": None,
            "prefill": [],
            "requires_signature": False,
        }
        return NoticeDraft(
            recipient=RecipientSpec(**data["recipient"]),
            category=data["category"],
            title_ja=data["title"]["ja"],
            title_en=data["title"].get("en", ""),
            body_ja=data["body"]["ja"],
            body_en=data["body"].get("en", ""),
            deadline=data.get("deadline"),
            action=action["type"],
            form_schema=action.get("schema"),
            prefill=[dict(item) for item in action.get("prefill", [])],
            requires_signature=action.get("requires_signature", False),
            attachments=tuple(AttachmentSpec(**a) for a in data.get("attachments", [])),
        )


class AttachmentOutSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")

    class Meta:
        model = NoticeAttachment
        fields = ("id", "filename", "content_type", "size", "sha256")


class DeliveryCountsSerializer(serializers.Serializer):
    delivered = serializers.IntegerField(help_text="inboxes the notice is in")
    read = serializers.IntegerField()
    responded = serializers.IntegerField()


class NoticeSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    idempotency_key = serializers.CharField()
    sent_at = serializers.DateTimeField()
    category = serializers.CharField()
    title = serializers.SerializerMethodField()
    deadline = serializers.DateTimeField(allow_null=True)
    action = serializers.CharField()
    requires_signature = serializers.BooleanField()
    recipient = serializers.SerializerMethodField()
    attachments = AttachmentOutSerializer(many=True)
    delivery = serializers.SerializerMethodField()

    @extend_schema_field(LocalisedTextSerializer)
    def get_title(self, notice: Notice) -> dict[str, str]:
        return {"ja": notice.title_ja, "en": notice.title_en}

    @extend_schema_field(RecipientSerializer)
    def get_recipient(self, notice: Notice) -> dict[str, Any]:
        if notice.recipient_id is not None:
            return {"type": "resident", "agency_code": self.context.get("recipient_code", "")}
        if not (
            notice.segment_municipality
            or notice.segment_min_age is not None
            or notice.segment_max_age is not None
        ):
            return {"type": "everyone"}
        return {
            "type": "segment",
            "municipality": notice.segment_municipality,
            "min_age": notice.segment_min_age,
            "max_age": notice.segment_max_age,
        }

    @extend_schema_field(DeliveryCountsSerializer(allow_null=True))
    def get_delivery(self, notice: Notice) -> dict[str, int] | None:
        counts: DeliveryCounts | None = self.context.get("delivery")
        if counts is None:
            return None
        return {"delivered": counts.delivered, "read": counts.read, "responded": counts.responded}


class SignatureSerializer(serializers.Serializer):
    signed = serializers.BooleanField()
    signed_at = serializers.DateTimeField(allow_null=True)
    act_digest = serializers.CharField(allow_null=True, help_text="SHA-256 of the signed act and answers")


class AnsweredBySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["resident", "proxy"], help_text="the resident themselves, or a proxy acting for them"
    )
    relationship = serializers.ChoiceField(
        choices=["voluntary", "parent", "guardian"],
        required=False,
        allow_null=True,
        help_text="a proxy only: appointed by the resident (任意代理人), a parent of a child under 15 "
        "(親権者) or an adult guardian (成年後見人)",
    )
    name = serializers.CharField(required=False, help_text="a proxy only: the name on the proxy's own card")
    agency_code = serializers.CharField(
        required=False, help_text="a proxy only: your agency code for the proxy (never a My Number)"
    )


class ResponseSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    receipt_number = serializers.CharField()
    notice_id = serializers.UUIDField()
    agency_code = serializers.CharField(help_text="the responder, by your agency code for them")
    submitted_at = serializers.DateTimeField()
    answers = serializers.JSONField()
    signature = SignatureSerializer()
    answered_by = AnsweredBySerializer(help_text="who gave the answer: the resident or their proxy")


class ResponsePageSerializer(serializers.Serializer):
    results = ResponseSerializer(many=True)
    next_after = serializers.UUIDField(allow_null=True, help_text="pass as ?after= for the next page")


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    message = serializers.DictField(child=serializers.CharField(), help_text='{"ja": ..., "en": ...}')
    field = serializers.CharField(required=False)
