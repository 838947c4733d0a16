"""The notification settings forms: categories per channel and quiet hours; the e-mail address."""

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.notify.categories import NOTIFY_CATEGORIES
from portal.notify.models import NotificationPreference

_TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class PreferenceForm(forms.Form):
    """One push and one e-mail checkbox per category, and the quiet hours (both or neither)."""

    quiet_start = forms.TimeField(label=_("開始"), required=False, widget=_TIME)
    quiet_end = forms.TimeField(label=_("終了"), required=False, widget=_TIME)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for code in NOTIFY_CATEGORIES:
            self.fields[f"push_{code}"] = forms.BooleanField(label=_("プッシュ通知"), required=False)
            self.fields[f"email_{code}"] = forms.BooleanField(label=_("メール"), required=False)

    @classmethod
    def for_preference(cls, preference: NotificationPreference) -> "PreferenceForm":
        initial: dict[str, object] = {
            "quiet_start": preference.quiet_start,
            "quiet_end": preference.quiet_end,
        }
        for code in NOTIFY_CATEGORIES:
            initial[f"push_{code}"] = code in preference.push_categories
            initial[f"email_{code}"] = code in preference.email_categories
        return cls(initial=initial)

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if (
            (start is None) != (end is None)
            and not self.has_error("quiet_start")
            and not self.has_error("quiet_end")
        ):
            raise forms.ValidationError(
                _("通知しない時間帯は、開始と終了の両方を入力してください。"), code="quiet_pair"
            )
        if start is not None and start == end:
            raise forms.ValidationError(_("通知しない時間帯の開始と終了が同じです。"), code="quiet_empty")
        return data

    def category_rows(self) -> list[tuple[str, str, forms.BoundField, forms.BoundField]]:
        return [
            (code, label, self[f"push_{code}"], self[f"email_{code}"])
            for code, label in NOTIFY_CATEGORIES.items()
        ]

    def preference_values(self) -> dict[str, object]:
        data = self.cleaned_data
        quiet_start: dt.time | None = data.get("quiet_start")
        quiet_end: dt.time | None = data.get("quiet_end")
        return {
            "push_categories": [code for code in NOTIFY_CATEGORIES if data.get(f"push_{code}")],
            "email_categories": [code for code in NOTIFY_CATEGORIES if data.get(f"email_{code}")],
            "quiet_start": quiet_start.replace(second=0, microsecond=0) if quiet_start else None,
            "quiet_end": quiet_end.replace(second=0, microsecond=0) if quiet_end else None,
        }


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("メールアドレス"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
