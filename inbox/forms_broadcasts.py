"""Forms of the broadcast pages (inbox/views_broadcasts.py): shape and field validation only.

The composer is one form in sections: what (name, number, template, its parameters),
who (the audience), when (now or a time). Each template parameter gets three fields,
`param-<key>-source` (fixed text, a contact field or a CSV column), `param-<key>-value`
and `param-<key>-default` (for a recipient whose field or column is empty);
`template_parameters()` turns them into the services' parameter syntax. Extra sections
(e.g. a canary) add their fields to `BroadcastComposerForm`, their arguments in
`create_arguments()` and their inputs in templates/broadcasts/new.html.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inbox.broadcast_selectors import RECIPIENT_STATUSES, broadcast_source_get
from inbox.forms import CursorField
from inbox.models import Broadcast, Label, PhoneNumber, Template
from inbox.providers.base import PARAM_RE

SOURCE_TEXT = "text"
SOURCE_CONTACT = "contact"
SOURCE_COLUMN = "column"
SOURCE_CHOICES = [
    (SOURCE_TEXT, _("Fixed text")),
    (SOURCE_CONTACT, _("Contact field")),
    (SOURCE_COLUMN, _("CSV column")),
]
# Contact fields a parameter can name; any other name is read from the contact's attributes.
CONTACT_FIELDS = ("name", "phone")
SCHEDULE_CHOICES = [("now", _("Send now")), ("later", _("At a time"))]
CANARY_CHOICES = [("", _("No: send to everyone at once")), ("count", _("A number of recipients")),
                  ("percent", _("A share of the audience"))]  # fmt: skip
CANARY_COUNT_REQUIRED = _("How many recipients get it first?")
CANARY_PERCENT_REQUIRED = _("Which share of the audience gets it first?")

PARAMETER_REQUIRED = _("Fill this parameter, or choose a contact field or CSV column for it.")
COLUMN_NEEDS_CSV = _("A CSV column can fill a parameter only when the audience is a CSV file.")
SCHEDULE_REQUIRED = _("Choose the time to send at.")
SCHEDULE_PAST = _("This time has passed; choose a time ahead, or send now.")
FILTER_INVALID = _("Write one condition per line, as attribute = value (e.g. city = Berlin).")
FILTER_REQUIRED = _("Write at least one condition.")
LABELS_REQUIRED = _("Choose at least one label.")
SOURCE_REQUIRED = _("Choose the earlier broadcast.")
CSV_REQUIRED = _("Choose a CSV file to upload.")


def template_parameter_keys(template: Template | None) -> list[str]:
    """The template's parameters in order of first use: "1", "2" … or names."""
    if template is None:
        return []
    keys: list[str] = []
    for text in (template.header, template.body):
        for match in PARAM_RE.finditer(text or ""):
            if match.group(1) not in keys:
                keys.append(match.group(1))
    if keys and all(key.isdigit() for key in keys):
        keys.sort(key=int)
    return keys


def parameter_reference(source: str, value: str, default: str = "") -> Any:
    """One parameter in the services' syntax (inbox.broadcast_selectors, "per-recipient template
    parameters"): fixed text as it is, or {"contact": field} / {"column": name} with an
    optional "default" for a recipient whose value is empty."""
    if source not in (SOURCE_CONTACT, SOURCE_COLUMN):
        return value
    reference: dict[str, str] = {source: value}
    if default:
        reference["default"] = default
    return reference


def parameter_fields_from(parameters: Any, keys: list[str]) -> dict[str, tuple[str, str, str]]:
    """The reverse of parameter_reference for a stored broadcast: key → (source, value, default)."""
    if isinstance(parameters, dict):
        values = {str(k): v for k, v in parameters.items()}
    else:
        values = {str(i): v for i, v in enumerate(parameters or [], start=1)}
    found: dict[str, tuple[str, str, str]] = {}
    for key in keys:
        value = values.get(key, "")
        default = str(value.get("default") or "") if isinstance(value, dict) else ""
        if isinstance(value, dict) and "contact" in value:
            found[key] = (SOURCE_CONTACT, str(value["contact"]), default)
        elif isinstance(value, dict) and "column" in value:
            found[key] = (SOURCE_COLUMN, str(value["column"]), default)
        else:
            found[key] = (SOURCE_TEXT, str(value), "")
    return found


def _filter_parse(text: str) -> dict[str, str]:
    conditions: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ValidationError(FILTER_INVALID)
        conditions[name.strip()] = value.strip()
    if not conditions:
        raise ValidationError(FILTER_REQUIRED)
    return conditions


class BroadcastComposerForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        help_text=_("For your team only; customers never see it (e.g. “Flight LH123 delay”)."),
    )
    phone_number = forms.ChoiceField(label=_("Send from"), choices=[])
    template = forms.ChoiceField(label=_("Approved template"), choices=[])
    audience_type = forms.ChoiceField(
        label=_("Audience"),
        widget=forms.RadioSelect,
        initial=Broadcast.AudienceType.ALL,
        choices=[
            (Broadcast.AudienceType.ALL, _("All opted-in contacts")),
            (Broadcast.AudienceType.LABELS, _("Contacts with any of these labels")),
            (Broadcast.AudienceType.FILTER, _("Contacts whose attributes match")),
            (Broadcast.AudienceType.BROADCAST, _("Recipients of an earlier broadcast")),
        ],
    )
    labels = forms.MultipleChoiceField(
        label=_("Labels"), required=False, choices=[], widget=forms.CheckboxSelectMultiple
    )
    filter = forms.CharField(
        label=_("Attribute conditions"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, as attribute = value; a contact must match all of them."),
    )
    source_broadcast = forms.ChoiceField(label=_("Earlier broadcast"), required=False, choices=[])
    only_unread = forms.BooleanField(label=_("Only those who have not read it"), required=False)
    schedule = forms.ChoiceField(label=_("When"), widget=forms.RadioSelect, choices=SCHEDULE_CHOICES, initial="now")
    scheduled_at = forms.DateTimeField(
        label=_("Send at (UTC)"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Times are in UTC."),
    )

    # Safety: a canary (the first recipients, then a hold for their statuses) and the
    # failure rate at which the broadcast pauses by itself (inbox/services/broadcast_breaker.py).
    canary = forms.ChoiceField(
        label=_("Send to a few first (canary)"), widget=forms.RadioSelect, choices=CANARY_CHOICES, required=False
    )
    canary_count = forms.IntegerField(label=_("Recipients first"), required=False, min_value=1, max_value=1_000_000)
    canary_percent = forms.DecimalField(
        label=_("Share first (%)"), required=False, min_value=Decimal("0.01"), max_value=Decimal("99.99"),
        # xgettext:no-python-format
        max_digits=5, decimal_places=2, help_text=_("1 % of a small audience is still one recipient."),
    )  # fmt: skip
    canary_hold_minutes = forms.IntegerField(
        label=_("Then wait (minutes)"), required=False, min_value=0, max_value=1440, initial=10,
        help_text=_(
            "Time for their delivered/failed statuses to come in; the rest goes out after that "
            "unless too many of them failed."
        ),
    )  # fmt: skip
    failure_threshold = forms.DecimalField(
        label=_("Pause by itself when more than this share fails (%)"), required=False, min_value=Decimal("0.1"),
        max_value=Decimal("100"), max_digits=4, decimal_places=1,
        help_text=_("Over its recent messages; empty: 20 %."),
    )  # fmt: skip

    def __init__(
        self,
        *args: Any,
        numbers: list[PhoneNumber],
        templates: list[Template],
        labels: list[Label],
        sources: list[Broadcast],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.numbers = {str(n.public_id): n for n in numbers}
        self.templates = {str(t.public_id): t for t in templates}
        self.sources = {str(b.public_id): b for b in sources}
        self.fields["scheduled_at"].widget.attrs["min"] = utc_now_local_input()
        self.fields["phone_number"].choices = [(key, n.display_number) for key, n in self.numbers.items()]
        self.fields["template"].choices = [
            (key, f"{t.name} ({t.language}, {t.get_category_display().lower()})") for key, t in self.templates.items()
        ]
        self.fields["labels"].choices = [(label.name, label.name) for label in labels]
        self.fields["source_broadcast"].choices = [("", "—")] + [
            (key, f"{b.name} ({b.started_at:%Y-%m-%d %H:%M} UTC)") for key, b in self.sources.items()
        ]
        self.fields["audience_type"].choices = [
            *self.fields["audience_type"].choices,
            (Broadcast.AudienceType.CSV, _("Recipients of a CSV file")),
        ]
        self.fields["csv_file"] = forms.FileField(
            label=_("CSV file"),
            required=False,
            help_text=_(
                "A header row with a “phone” column (numbers in international form, e.g. +4915112345678), "
                "an optional “opt_in” column (yes/no), and one column per variable. Comma or semicolon separated."
            ),
        )
        # A file accepted by an earlier submit that failed elsewhere: not uploaded again.
        self.fields["upload_id"] = forms.UUIDField(required=False, widget=forms.HiddenInput)
        self.parameter_keys = template_parameter_keys(self.selected_template())
        for key in self.parameter_keys:
            self.fields[f"param-{key}-source"] = forms.ChoiceField(
                label=_("Fill %(parameter)s with") % {"parameter": f"{{{{{key}}}}}"},
                choices=SOURCE_CHOICES,
                initial=SOURCE_TEXT,
            )
            self.fields[f"param-{key}-value"] = forms.CharField(
                label=_("Value of %(parameter)s") % {"parameter": f"{{{{{key}}}}}"}, required=False, max_length=1024
            )
            self.fields[f"param-{key}-default"] = forms.CharField(
                label=_("If empty for a recipient"), required=False, max_length=1024
            )

    # --- what the template part of the page shows --------------------------------------------

    def selected_template(self) -> Template | None:
        key = self.data.get("template") if self.is_bound else self.initial.get("template")
        if key is None and not self.is_bound and len(self.templates) == 1:
            key = next(iter(self.templates))
        return self.templates.get(str(key)) if key else None

    def parameter_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "key": key,
                "source": self[f"param-{key}-source"],
                "value": self[f"param-{key}-value"],
                "default": self[f"param-{key}-default"],
            }
            for key in self.parameter_keys
        ]

    def preview_parameters(self) -> dict[str, str]:
        """What each parameter shows in the preview: the text, or which field fills it."""
        shown: dict[str, str] = {}
        for key in self.parameter_keys:
            source = self[f"param-{key}-source"].value() or SOURCE_TEXT
            value = (self[f"param-{key}-value"].value() or "").strip()
            if source == SOURCE_CONTACT:
                shown[key] = f"[contact: {value or '?'}]"
            elif source == SOURCE_COLUMN:
                shown[key] = f"[CSV: {value or '?'}]"
            elif value:
                shown[key] = value
        return shown

    # --- validation ------------------------------------------------------------------------------

    def clean_filter(self) -> dict[str, str] | None:
        text = self.cleaned_data["filter"]
        if self.data.get("audience_type") != Broadcast.AudienceType.FILTER:
            return None
        return _filter_parse(text)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("audience_type")
        if kind == Broadcast.AudienceType.LABELS and not data.get("labels"):
            self.add_error("labels", LABELS_REQUIRED)
        if kind == Broadcast.AudienceType.BROADCAST and not data.get("source_broadcast"):
            self.add_error("source_broadcast", SOURCE_REQUIRED)
        if kind == Broadcast.AudienceType.CSV and not data.get("csv_file") and not data.get("upload_id"):
            self.add_error("csv_file", CSV_REQUIRED)
        for key in self.parameter_keys:
            source = data.get(f"param-{key}-source")
            value = (data.get(f"param-{key}-value") or "").strip()
            if not value:
                self.add_error(f"param-{key}-value", PARAMETER_REQUIRED)
            elif source == SOURCE_COLUMN and kind != Broadcast.AudienceType.CSV:
                self.add_error(f"param-{key}-value", COLUMN_NEEDS_CSV)
        if data.get("canary") == "count" and not data.get("canary_count") and "canary_count" not in self.errors:
            self.add_error("canary_count", CANARY_COUNT_REQUIRED)
        if data.get("canary") == "percent" and not data.get("canary_percent") and "canary_percent" not in self.errors:
            self.add_error("canary_percent", CANARY_PERCENT_REQUIRED)
        if data.get("schedule") == "later":
            at = data.get("scheduled_at")
            if at is None:
                if "scheduled_at" not in self.errors:
                    self.add_error("scheduled_at", SCHEDULE_REQUIRED)
            else:
                at = at.replace(tzinfo=UTC) if timezone.is_naive(at) else at
                data["scheduled_at"] = at
                if at <= timezone.now():
                    self.add_error("scheduled_at", SCHEDULE_PAST)
        return data

    # --- for the services (call after is_valid) -----------------------------------------------

    def template_parameters(self) -> list[Any] | dict[str, Any]:
        values = {
            key: parameter_reference(
                self.cleaned_data[f"param-{key}-source"],
                self.cleaned_data[f"param-{key}-value"].strip(),
                self.cleaned_data[f"param-{key}-default"],
            )
            for key in self.parameter_keys
        }
        if all(key.isdigit() for key in values):
            return [values[key] for key in sorted(values, key=int)]
        return values

    def audience(self, *, upload_id: str | None = None) -> dict[str, Any]:
        data = self.cleaned_data
        kind = data["audience_type"]
        if kind == Broadcast.AudienceType.LABELS:
            return {"type": kind, "labels": list(data["labels"])}
        if kind == Broadcast.AudienceType.FILTER:
            return {"type": kind, "filter": data["filter"]}
        if kind == Broadcast.AudienceType.BROADCAST:
            return {"type": kind, "broadcast": data["source_broadcast"], "only_unread": bool(data["only_unread"])}
        if kind == Broadcast.AudienceType.CSV:
            return {"type": kind, "upload_id": upload_id or str(data.get("upload_id") or "")}
        return {"type": Broadcast.AudienceType.ALL}

    def create_arguments(self, *, upload_id: str | None = None) -> dict[str, Any]:
        """The keyword arguments of `broadcast_create` (the creator is the view's to add)."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "template": self.templates[data["template"]],
            "phone_number": self.numbers[data["phone_number"]],
            "audience": self.audience(upload_id=upload_id),
            "template_parameters": self.template_parameters(),
            "scheduled_at": data["scheduled_at"] if data["schedule"] == "later" else None,
            "canary": self.canary_argument(),
            "failure_threshold": float(data["failure_threshold"]) / 100 if data.get("failure_threshold") else None,
        }

    def canary_argument(self) -> dict[str, Any] | None:
        """The `canary` of `broadcast_create`, or None when the broadcast goes to everyone at once."""
        data = self.cleaned_data
        kind = data.get("canary")
        if kind not in ("count", "percent"):
            return None
        hold = data.get("canary_hold_minutes")
        canary: dict[str, Any] = (
            {"count": data["canary_count"]} if kind == "count" else {"percent": data["canary_percent"]}
        )
        if hold is not None:
            canary["hold_seconds"] = hold * 60
        return canary


def composer_initial(broadcast: Broadcast) -> dict[str, Any]:
    """The composer's values for a copy of `broadcast` ("send again", "edit a draft")."""
    audience = broadcast.audience or {}
    kind = audience.get("type", Broadcast.AudienceType.ALL)
    initial: dict[str, Any] = {
        "name": broadcast.name,
        "phone_number": str(broadcast.phone_number.public_id),
        "template": str(broadcast.template.public_id),
        "audience_type": kind,
        "labels": audience.get("labels") or [],
        "filter": "\n".join(f"{k} = {v}" for k, v in (audience.get("filter") or {}).items()),
        "only_unread": bool(audience.get("only_unread")),
    }
    if kind == Broadcast.AudienceType.BROADCAST:
        source = broadcast_source_get(pk=audience.get("broadcast"))
        initial["source_broadcast"] = str(source.public_id) if source else ""
    if kind == Broadcast.AudienceType.CSV:
        initial["upload_id"] = audience.get("upload_id") or ""
    if broadcast.canary_count or broadcast.canary_percent:
        initial["canary"] = "count" if broadcast.canary_count else "percent"
        initial["canary_count"] = broadcast.canary_count
        initial["canary_percent"] = broadcast.canary_percent
        initial["canary_hold_minutes"] = broadcast.canary_hold_seconds // 60
    if broadcast.failure_threshold is not None:
        initial["failure_threshold"] = round(Decimal(str(broadcast.failure_threshold)) * 100, 1)
    keys = template_parameter_keys(broadcast.template)
    for key, (source, value, default) in parameter_fields_from(broadcast.template_parameters, keys).items():
        initial[f"param-{key}-source"] = source
        initial[f"param-{key}-value"] = value
        initial[f"param-{key}-default"] = default
    return initial


class BroadcastListForm(forms.Form):
    status = forms.ChoiceField(choices=[("", _("Any status")), *Broadcast.Status.choices], required=False)
    after = CursorField(required=False)


class RecipientPageForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", _("Any"))] + [(s, s.capitalize()) for s in RECIPIENT_STATUSES], required=False
    )
    after = forms.IntegerField(required=False, min_value=0)


def uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def utc_now_local_input() -> str:
    """The value of a datetime-local input for "now" in UTC (the composer's minimum)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
