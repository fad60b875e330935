"""Broadcast pages on a company host: list, composer (with the dry run before Start), detail
with live progress, pause/resume/cancel, and the per-recipient CSV export.

Same services as the REST API (inbox.services.broadcasts). The composer saves a draft;
the draft's page is the dry-run step (audience, exclusions, cost, duration) with the
Start button. A running, scheduled or paused broadcast's page polls a small fragment
every ~2 s through inbox.js (the inbox's poller, with its "live updates paused" banner);
the fragment answers 286 once the broadcast is final, which tells htmx to stop polling.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from billing.errors import PlanLimitExceeded
from inbox import broadcast_selectors as selectors
from inbox import forms as inbox_forms
from inbox import forms_broadcasts as forms
from inbox import selectors as inbox_selectors
from inbox.errors import InboxError
from inbox.models import Broadcast, Delivery
from inbox.providers.base import template_render
from inbox.providers.errors import error_explain
from inbox.services import broadcasts as services
from inbox.services import uploads

LIST_PAGE_SIZE = 25
RECIPIENTS_PAGE_SIZE = 50
EXPORT_BATCH = 2000
POLL_INTERVAL_MS = 2000
# htmx stops an `every` poll when the answer has this status (a 2xx: the answer still applies).
STOP_POLLING = 286
LIVE_STATUSES = (Broadcast.Status.SCHEDULED, Broadcast.Status.RUNNING, Broadcast.Status.PAUSED)
EXCLUSION_LABELS = {
    "opted_out": _("Opted out"),
    "not_opted_in": _("Never opted in"),
    "marketing_opted_out": _("Opted out of marketing (marketing template)"),
    "invalid_phone": _("Phone number not valid"),
    "duplicate": _("Listed more than once"),
}
NO_NUMBER = _("Connect a number first (Settings → Numbers): broadcasts are sent from one.")
NO_TEMPLATE = _("No approved template yet: a broadcast sends an approved template.")
CSV_NO_LINES = _("No line of the file could be used; the reasons are listed below.")
# Cells a spreadsheet would run as a formula (OWASP "CSV injection"), tab and CR included.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
PARAMETER_ERROR = re.compile(r"^Parameter (\w+):")


def _agent(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _broadcast(public_id: uuid.UUID) -> Broadcast:
    try:
        return selectors.broadcast_get(public_id=public_id)
    except Broadcast.DoesNotExist as exc:
        raise Http404("No such broadcast.") from exc


# What the services refuse with a message meant for people.
REFUSALS = (ValidationError, InboxError, services.BroadcastStateError, PlanLimitExceeded)


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages) if exc.messages else str(_("That did not work."))
    return str(getattr(exc, "message", "") or exc)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return str(_("under 1 s"))
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _audience_text(broadcast: Broadcast) -> str:
    audience = broadcast.audience or {}
    kind = audience.get("type")
    if kind == Broadcast.AudienceType.LABELS:
        return _("Contacts labelled %(labels)s") % {"labels": ", ".join(audience.get("labels") or [])}
    if kind == Broadcast.AudienceType.FILTER:
        conditions = ", ".join(f"{k} = {v}" for k, v in (audience.get("filter") or {}).items())
        return _("Contacts where %(conditions)s") % {"conditions": conditions}
    if kind == Broadcast.AudienceType.BROADCAST:
        source = selectors.broadcast_source_get(pk=audience.get("broadcast"))
        name = source.name if source else str(_("a deleted broadcast"))
        if audience.get("only_unread"):
            return _("Recipients of “%(name)s” who have not read it") % {"name": name}
        return _("Recipients of “%(name)s”") % {"name": name}
    if kind == Broadcast.AudienceType.CSV:
        upload = selectors.broadcast_upload_get(broadcast=broadcast)
        if upload is None:
            return str(_("Recipients of an uploaded CSV file"))
        return _("Recipients of the CSV file “%(name)s” (%(lines)s lines)") % {
            "name": upload.original_name or "upload",
            "lines": upload.rows_accepted,
        }
    return str(_("All opted-in contacts"))


def _preview(template: Any, shown: dict[str, str] | list[Any] | Any) -> dict[str, Any]:
    if template is None:
        return {}
    return {
        "header": template_render(template.header, shown) if template.header else "",
        "body": template_render(template.body, shown),
        "footer": template.footer,
        "buttons": [b.get("text", "") for b in template.buttons or [] if isinstance(b, dict)],
    }


def _stored_preview_values(broadcast: Broadcast) -> dict[str, str]:
    keys = forms.template_parameter_keys(broadcast.template)
    shown = {}
    for key, (source, value, _default) in forms.parameter_fields_from(broadcast.template_parameters, keys).items():
        if source == forms.SOURCE_CONTACT:
            shown[key] = f"[contact: {value}]"
        elif source == forms.SOURCE_COLUMN:
            shown[key] = f"[CSV: {value}]"
        else:
            shown[key] = value
    return shown


# --- list ------------------------------------------------------------------------------------


@require_GET
@login_required
def broadcast_list(request: HttpRequest) -> HttpResponse:
    form = forms.BroadcastListForm(request.GET)
    if not form.is_valid():
        return render(request, "broadcasts/list.html", {"form": form, "rows": [], "bad_filter": True}, status=400)
    status = form.cleaned_data["status"] or None
    page = selectors.broadcast_list_page(status=status, after=form.cleaned_data["after"], size=LIST_PAGE_SIZE)
    next_query = ""
    if len(page) > LIST_PAGE_SIZE:
        page = page[:LIST_PAGE_SIZE]
        last = page[-1]
        next_query = urlencode(
            {**({"status": status} if status else {}), "after": inbox_forms.cursor_encode(last.created_at, last.pk)}
        )
    rows = [
        {
            "broadcast": b,
            "done": b.total - b.remaining,
            "percent": round(100 * (b.total - b.remaining) / b.total) if b.total else 0,
        }
        for b in page
    ]
    context = {
        "form": form,
        "rows": rows,
        "status": status or "",
        "status_choices": Broadcast.Status.choices,
        "next_query": next_query,
        "first_page": bool(form.cleaned_data["after"]),
    }
    return render(request, "broadcasts/list.html", context)


# --- composer --------------------------------------------------------------------------------


def _composer_form(
    request: HttpRequest, data: Any = None, files: Any = None, **kwargs: Any
) -> forms.BroadcastComposerForm:
    return forms.BroadcastComposerForm(
        data,
        files,
        numbers=list(inbox_selectors.phone_number_list_connected(company=request.company)),  # type: ignore[attr-defined]
        templates=list(inbox_selectors.template_list(approved_only=True)),
        labels=list(inbox_selectors.label_list()),
        sources=selectors.broadcast_source_list(),
        **kwargs,
    )


def _composer_page(
    request: HttpRequest, form: forms.BroadcastComposerForm, *, status: int = 200, upload_errors: Any = None
) -> HttpResponse:
    template = form.selected_template()
    context = {
        "form": form,
        "template": template,
        "preview": _preview(template, form.preview_parameters()),
        "contact_fields": forms.CONTACT_FIELDS,
        "no_number": NO_NUMBER if not form.numbers else "",
        "no_template": NO_TEMPLATE if not form.templates else "",
        "min_time": forms.utc_now_local_input(),
        "upload_errors": upload_errors or [],
        # The template part is also fetched while the agent types: errors only after a submit.
        "show_errors": form.is_bound,
    }
    return render(request, "broadcasts/new.html", context, status=status)


def _service_errors_add(form: forms.BroadcastComposerForm, exc: Exception) -> None:
    """Puts a service's refusal next to the field it is about ("Parameter 2: …" on {{2}})."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(_error_field(form, field, error), error)
    elif isinstance(exc, InboxError):
        form.add_error("template", exc.message)
    else:
        form.add_error(None, _message(exc))


def _error_field(form: forms.BroadcastComposerForm, field: str, error: str) -> str | None:
    if field in ("parameters", "template_parameters"):
        match = PARAMETER_ERROR.match(error)
        key = match.group(1) if match else (form.parameter_keys[0] if form.parameter_keys else "")
        target = f"param-{key}-value"
    else:
        target = {"audience": "audience_type", "upload": "csv_file", "file": "csv_file"}.get(field, field)
    return target if target in form.fields else None


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def broadcast_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _composer_page(request, _composer_form(request, initial=_composer_initial(request)))
    form = _composer_form(request, request.POST, request.FILES)
    valid = form.is_valid()
    # The file is imported even when another field is wrong: a browser cannot refill a file
    # input, so the accepted upload rides along (hidden upload_id) to the next submit.
    upload_id, upload_errors, refused = _csv_upload(request, form)
    if upload_id:
        data = form.data.copy()
        data["upload_id"] = upload_id
        form.data = data
    if not valid or refused:
        return _composer_page(request, form, status=400, upload_errors=upload_errors)
    try:
        broadcast = services.broadcast_create(**form.create_arguments(upload_id=upload_id), created_by=_agent(request))
    except REFUSALS as exc:
        _service_errors_add(form, exc)
        return _composer_page(request, form, status=400, upload_errors=upload_errors)
    if upload_errors:
        shown = "; ".join(f"line {e['line']}: {e['message']}" for e in upload_errors[:5])
        more = f" (and {len(upload_errors) - 5} more)" if len(upload_errors) > 5 else ""
        flash.warning(request, f"{len(upload_errors)} line(s) of the CSV file were left out — {shown}{more}.")
    return redirect("broadcasts:broadcast_detail", public_id=broadcast.public_id)


def _composer_initial(request: HttpRequest) -> dict[str, Any]:
    """`?copy=<id>`: the values of that broadcast; `?follow_up=<id>`: its recipients who have
    not read it, from the same number (the airline's "new departure 14:10")."""
    copy = forms.uuid_or_none(request.GET.get("copy"))
    if copy:
        initial = forms.composer_initial(_broadcast(copy))
        initial["name"] = f"{initial['name']} (copy)"[:200]
        return initial
    follow_up = forms.uuid_or_none(request.GET.get("follow_up"))
    if follow_up:
        source = _broadcast(follow_up)
        return {
            "name": f"Follow-up: {source.name}"[:200],
            "phone_number": str(source.phone_number.public_id),
            "audience_type": Broadcast.AudienceType.BROADCAST,
            "source_broadcast": str(source.public_id),
            "only_unread": True,
        }
    return {}


def _csv_upload(request: HttpRequest, form: forms.BroadcastComposerForm) -> tuple[str | None, list[Any], bool]:
    """Imports the attached CSV file of a CSV audience: (upload id, rejected lines, refused)."""
    cleaned = getattr(form, "cleaned_data", {})
    if form.data.get("audience_type") != Broadcast.AudienceType.CSV or not cleaned.get("csv_file"):
        return None, [], False
    try:
        result = uploads.upload_create(file=cleaned["csv_file"], created_by=_agent(request))
    except ValidationError as exc:
        form.add_error("csv_file", exc.messages)
        return None, [], True
    if result.upload is None:
        form.add_error("csv_file", CSV_NO_LINES)
        return None, result.errors, True
    return str(result.upload.public_id), result.errors, False


@require_GET
@login_required
def broadcast_template_part(request: HttpRequest) -> HttpResponse:
    """The template's preview and parameter inputs, for the template chosen in the composer."""
    form = _composer_form(request, request.GET)
    template = form.selected_template()
    part = "broadcasts/_preview.html" if request.GET.get("part") == "preview" else "broadcasts/_template_part.html"
    context = {
        "form": form,
        "template": template,
        "preview": _preview(template, form.preview_parameters()),
        "contact_fields": forms.CONTACT_FIELDS,
    }
    return render(request, part, context)


# --- detail ----------------------------------------------------------------------------------


def _progress_context(broadcast: Broadcast) -> dict[str, Any]:
    counts = selectors.broadcast_counts_cached(broadcast=broadcast)
    done = broadcast.total - broadcast.remaining
    running = broadcast.status == Broadcast.Status.RUNNING
    rate = selectors.broadcast_send_rate(broadcast=broadcast) if running else None
    eta = broadcast.remaining / rate if rate else None
    failures = []
    for row in selectors.broadcast_failure_list(broadcast=broadcast) if counts.get("failed") else []:
        info = error_explain(row["code"], title=row["title"])
        failures.append({"code": row["code"], "title": info.title, "explanation": info.detail, "count": row["count"]})
    return {
        "broadcast": broadcast,
        "counts": counts,
        "count_rows": [(name, counts.get(name, 0)) for name in selectors.RECIPIENT_STATUSES],
        "done": done,
        "percent": round(100 * done / broadcast.total) if broadcast.total else (100 if done else 0),
        "rate": rate,
        "eta": _duration(eta) if eta is not None else "",
        "failures": failures,
        "phase_detail": selectors.broadcast_phase_text(broadcast),
        "live": broadcast.status in LIVE_STATUSES,
        "poll_since": timezone.now().isoformat(),
        "poll_interval_ms": POLL_INTERVAL_MS,
        "poll_seconds": POLL_INTERVAL_MS // 1000,
    }


def _dry_run_context(broadcast: Broadcast) -> dict[str, Any]:
    result = services.broadcast_dry_run(broadcast=broadcast)
    excluded = [
        (EXCLUSION_LABELS.get(reason, reason.replace("_", " ").capitalize()), n)
        for reason, n in (result.get("excluded") or {}).items()
        if n
    ]
    cost = result.get("cost") or {}
    return {
        "audience": result.get("audience", 0),
        "excluded": excluded,
        "cost": cost,
        "by_category": sorted((cost.get("by_category") or {}).items()),
        "duration": _duration(result.get("estimated_seconds")),
    }


def _recipients_context(request: HttpRequest, broadcast: Broadcast) -> dict[str, Any]:
    form = forms.RecipientPageForm(request.GET)
    if not form.is_valid():
        form = forms.RecipientPageForm({})
        form.is_valid()
    status = form.cleaned_data["status"] or None
    after = form.cleaned_data["after"]
    page = selectors.broadcast_recipient_page(
        broadcast=broadcast, status=status, after=after, size=RECIPIENTS_PAGE_SIZE
    )
    next_query = ""
    if len(page) > RECIPIENTS_PAGE_SIZE:
        page = page[:RECIPIENTS_PAGE_SIZE]
        next_query = urlencode({**({"status": status} if status else {}), "after": page[-1]["id"]})
    for row in page:
        row["skip_text"] = (row["skip_reason"] or "").replace("_", " ")
        if row["error_code"] is not None or row["error_title"]:
            row["error"] = error_explain(row["error_code"], title=row["error_title"])
    return {
        "recipients": page,
        "recipient_status": status or "",
        "recipient_statuses": selectors.RECIPIENT_STATUSES,
        "recipients_next": next_query,
        "recipients_paged": after is not None,
    }


def _detail_page(request: HttpRequest, broadcast: Broadcast, *, status: int = 200, error: str = "") -> HttpResponse:
    context: dict[str, Any] = {
        "broadcast": broadcast,
        "audience_text": _audience_text(broadcast),
        "preview": _preview(broadcast.template, _stored_preview_values(broadcast)),
        "error": error,
        **_progress_context(broadcast),
    }
    if broadcast.status == Broadcast.Status.DRAFT:
        context["dry_run"] = _dry_run_context(broadcast)
    else:
        context.update(_recipients_context(request, broadcast))
    return render(request, "broadcasts/detail.html", context, status=status)


@never_cache
@require_GET
@login_required
def broadcast_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    return _detail_page(request, _broadcast(public_id))


@never_cache
@require_GET
@login_required
def broadcast_progress(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The polled fragment: counts, bar, rate, failures and the actions for the current status."""
    broadcast = _broadcast(public_id)
    context = _progress_context(broadcast)
    return render(
        request,
        "broadcasts/_progress_poll.html",
        context,
        status=200 if broadcast.status in LIVE_STATUSES else STOP_POLLING,
    )


def _action(request: HttpRequest, public_id: uuid.UUID, act: Any, done: str) -> HttpResponse:
    broadcast = _broadcast(public_id)
    try:
        broadcast = act(broadcast)
    except REFUSALS as exc:
        # The API's 409 conflict (402 for a plan limit), as a page: what is wrong, with the
        # broadcast as it is now.
        status = 402 if isinstance(exc, PlanLimitExceeded) else 409
        return _detail_page(request, _broadcast(public_id), status=status, error=_message(exc))
    flash.success(request, done.format(name=broadcast.name))
    return redirect("broadcasts:broadcast_detail", public_id=broadcast.public_id)


@require_POST
@login_required
def broadcast_start(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    def start(b: Broadcast) -> Broadcast:
        return services.broadcast_start(broadcast=b)

    broadcast = _broadcast(public_id)
    done = (
        "“{name}” is scheduled."
        if broadcast.scheduled_at and broadcast.scheduled_at > timezone.now()
        else "“{name}” is sending."
    )
    return _action(request, public_id, start, done)


@require_POST
@login_required
def broadcast_pause(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    agent = _agent(request)

    def pause(b: Broadcast) -> Broadcast:
        return services.broadcast_pause(broadcast=b, reason=f"Paused by {agent.get_short_name()}")

    return _action(request, public_id, pause, "“{name}” is paused; sends in progress stop within one batch.")


@require_POST
@login_required
def broadcast_resume(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    def resume(b: Broadcast) -> Broadcast:
        return services.broadcast_resume(broadcast=b)

    return _action(request, public_id, resume, "“{name}” is sending again.")


@require_POST
@login_required
def broadcast_cancel(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    def cancel(b: Broadcast) -> Broadcast:
        return services.broadcast_cancel(broadcast=b)

    return _action(request, public_id, cancel, "“{name}” is cancelled; nobody else will get it.")


# --- CSV export ------------------------------------------------------------------------------

EXPORT_COLUMNS = [
    "phone",
    "contact_name",
    "status",
    "delivery_status",
    "message_status",
    "error_code",
    "error_title",
    "skip_reason",
    "wamid",
    "sent_at",
]
DELIVERY_STATUS_NAMES = {value: label.lower() for value, label in Delivery.Status.choices}


def csv_cell(value: Any) -> str:
    """A cell as text, with anything a spreadsheet would run as a formula made plain text."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _export_rows(broadcast: Broadcast) -> Iterator[list[str]]:
    yield EXPORT_COLUMNS
    for row in selectors.broadcast_recipient_iter(broadcast=broadcast, batch=EXPORT_BATCH):
        phone = row["phone"] or ""
        sent_at = row["sent_at"]
        yield [
            # An E.164 number is data, not a formula; prefixing it would break re-imports.
            phone if E164.match(phone) else csv_cell(phone),
            csv_cell(row["name"]),
            row["status"],
            DELIVERY_STATUS_NAMES.get(row["delivery_status"], ""),
            csv_cell(row["message_status"]),
            "" if row["error_code"] is None else str(row["error_code"]),
            csv_cell(row["error_title"]),
            csv_cell(row["skip_reason"]),
            csv_cell(row["wamid"]),
            sent_at.isoformat().replace("+00:00", "Z") if sent_at else "",
        ]


class _Echo:
    def write(self, value: str) -> str:
        return value


@never_cache
@require_GET
@login_required
def broadcast_export(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Every recipient's result as CSV, streamed page by page (memory stays flat at 1M rows)."""
    broadcast = _broadcast(public_id)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _export_rows(broadcast)), content_type="text/csv; charset=utf-8"
    )
    slug = re.sub(r"[^A-Za-z0-9]+", "-", broadcast.name).strip("-").lower()[:60] or "broadcast"
    filename = f"broadcast-{slug}-{timezone.now():%Y%m%d-%H%M}.csv"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"
    return response
