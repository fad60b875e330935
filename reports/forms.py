"""The report pages' filters: a company-local date range and a grouping."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

# A range longer than this is refused: the page shows one row per day.
MAX_DAYS = 731
DEFAULT_DAYS = 30


class ReportFilterForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    group = forms.ChoiceField(
        label=_("Group by"),
        required=False,
        choices=[("day", _("Day")), ("agent", _("Agent")), ("label", _("Label"))],
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        end = cleaned.get("end") or self.today
        start = cleaned.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError(_("The start date must not be after the end date."))
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(_("Choose at most %(days)s days.") % {"days": MAX_DAYS})
        cleaned["start"], cleaned["end"] = start, end
        cleaned["group"] = cleaned.get("group") or "day"
        return cleaned
