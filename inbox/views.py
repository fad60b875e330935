"""The agents' browser inbox: the thread list and one thread, with live updates by polling.

Live updates: each page polls a cheap endpoint every ~1.5 s with the time of its previous
answer (`since`); the answer holds only what changed, and inbox.js puts each row in place
by id. Polls overlap the previous window by POLL_OVERLAP, because a row stamped just
before a poll may be committed just after it; rows sent twice are identical and ignored.
Short requests keep gunicorn's sync workers free (no long-held connections).
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from billing.errors import PlanLimitExceeded
from inbox import display, forms, presence, selectors
from inbox.errors import InboxError
from inbox.models import Label, Message, Thread
from inbox.services import media
from inbox.services import merge as merge_services
from inbox.services import messages as message_services
from inbox.services import threads as thread_services
from inbox.window import window_expires_at, window_is_open

THREADS_PAGE_SIZE = 50
MESSAGES_PAGE_SIZE = 50
POLL_INTERVAL_MS = 1500
POLL_OVERLAP = timedelta(seconds=3)
CONSENT_EVENTS_SHOWN = 5


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _agent(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _bad_request(form: Any) -> HttpResponse:
    return HttpResponseBadRequest(
        "; ".join(str(message) for errors in form.errors.values() for message in errors), content_type="text/plain"
    )


def _first_error(exc: ValidationError | InboxError | PlanLimitExceeded) -> str:
    if isinstance(exc, InboxError | PlanLimitExceeded):
        return exc.message
    return exc.messages[0] if exc.messages else "That did not work."


def _threads_url() -> str:
    # Rows build their links from this prefix: one reverse() per page instead of one per row.
    return reverse("inbox:thread_list") + "threads/"


# --- thread list ---------------------------------------------------------------------------


def _list_context(
    request: HttpRequest, form: forms.ThreadFilterForm, labels: list[Label] | QuerySet[Label] | None = None
) -> dict[str, Any]:
    page = selectors.thread_list_page(
        threads=selectors.thread_row_list(**form.selector_filters(agent=_agent(request))),
        after=form.cleaned_data.get("after"),
        size=THREADS_PAGE_SIZE,
    )
    has_more = len(page) > THREADS_PAGE_SIZE
    page = page[:THREADS_PAGE_SIZE]
    filters = {name: form.cleaned_data.get(name) or "" for name in form.FILTER_FIELDS}
    filter_query = urlencode({name: value for name, value in filters.items() if value})
    next_query = ""
    if has_more:
        last: dict[str, Any] = page[-1]  # type: ignore[assignment]
        next_query = urlencode({**filters, "after": forms.cursor_encode(last["last_message_at"], last["id"])})
    return {
        "rows": display.thread_rows(page),  # type: ignore[arg-type]
        "threads_url": _threads_url(),
        "filters": filters,
        "filter_query": filter_query,
        "next_query": next_query,
        "poll_since": timezone.now().isoformat(),
        "poll_interval_ms": POLL_INTERVAL_MS,
        # Lazy: read only by the filter form of a full page.
        "labels": selectors.label_list() if labels is None else labels,
        "view_choices": forms.VIEW_CHOICES,
        "status_choices": Thread.Status.choices,
    }


@require_GET
@login_required
def thread_list(request: HttpRequest) -> HttpResponse:
    form = forms.ThreadFilterForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    context = _list_context(request, form)
    if _is_htmx(request) and form.cleaned_data.get("after"):
        # "Load more": the next rows and the next button only.
        return render(request, "inbox/_thread_rows_more.html", context)
    return render(request, "inbox/thread_list.html", context)


@require_GET
@login_required
def thread_list_updates(request: HttpRequest) -> HttpResponse:
    form = forms.ThreadListPollForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    now = timezone.now()
    since = form.cleaned_data["since"] - POLL_OVERLAP
    changed, gone = selectors.thread_row_list_changed(since=since, **form.selector_filters(agent=_agent(request)))
    # Threads merged into another one or deleted with their contact are gone from the table:
    # the privacy log names them.
    gone = [*gone, *merge_services.thread_ids_gone(since=since)]
    filter_query = urlencode({n: form.cleaned_data.get(n) for n in form.FILTER_FIELDS if form.cleaned_data.get(n)})
    context = {
        "rows": display.thread_rows(changed),
        "threads_url": _threads_url(),
        "gone": gone,
        "poll_since": now.isoformat(),
        "filter_query": filter_query,
    }
    return render(request, "inbox/_thread_list_updates.html", context)


# --- one thread ------------------------------------------------------------------------------


def _thread_context(
    request: HttpRequest,
    thread: Thread,
    *,
    labels: list[Label] | None = None,
    others: list[presence.Presence] | None = None,
) -> dict[str, Any]:
    """What the header, composer and contact panel of a thread show."""
    window_open = window_is_open(thread)
    # Only a closed window offers templates.
    templates = [] if window_open else list(selectors.template_list(approved_only=True))
    if labels is None:
        labels = list(selectors.label_list())
    contact = thread.contact
    agents = list(selectors.agent_list())
    return {
        "thread": thread,
        "contact": contact,
        "window_open": window_open,
        "window_expires_at": window_expires_at(thread),
        "templates": templates,
        "agents": agents,
        # The note box offers them by e-mail local part, a handle note_create resolves.
        "mention_agents": [
            {"handle": agent.email.split("@", 1)[0].lower(), "name": agent.get_short_name()} for agent in agents
        ],
        "thread_label_names": [label.name for label in thread.labels.all()],
        "labels_form": forms.LabelsForm(label_names=[label.name for label in labels]),
        "reply_form": forms.ReplyForm(),
        "template_form": forms.TemplateReplyForm(templates=templates),
        "canned_replies": list(selectors.canned_reply_list().values("shortcut", "title", "body")),
        "attachment_accept": forms.ATTACHMENT_ACCEPT,
        "image_max_mb": media.media_max_bytes(Message.Type.IMAGE) // media.MB,
        "document_max_mb": media.media_max_bytes(Message.Type.DOCUMENT) // media.MB,
        "consent_events": list(selectors.consent_list_for_contact(contact=contact)[:CONSENT_EVENTS_SHOWN]),
        "other_threads": selectors.thread_list_for_contact(contact=contact, exclude=thread),
        "others": presence.presence_list_others(thread=thread, agent=_agent(request)) if others is None else others,
        "poll_interval_ms": POLL_INTERVAL_MS,
    }


def _message_page(thread: Thread, before: selectors.Position | None) -> tuple[list[dict[str, Any]], str]:
    """A page of the timeline (messages with the notes written among them) and the cursor
    of the next older page ("" when this is the oldest)."""
    page = selectors.message_page_for_thread(thread=thread, before=before, size=MESSAGES_PAGE_SIZE)
    has_more = len(page) > MESSAGES_PAGE_SIZE
    page = page[:MESSAGES_PAGE_SIZE]
    start = page[-1].created_at if has_more else None
    end = before[0] if before else None
    notes = selectors.note_list_for_thread_between(thread=thread, start=start, end=end)
    older = forms.cursor_encode(page[-1].created_at, page[-1].pk) if has_more else ""
    # Merge events ("Merged from …", inbox/services/merge.py) sit among the messages.
    merged = merge_services.merge_timeline_items(thread=thread, start=start, end=end)
    return sorted([*display.timeline([*page, *notes]), *merged], key=lambda row: row["sort"]), older


def _merged_into(agent: User, public_id: Any) -> Thread | None:
    """The thread a merged-away thread went into, if the merge log (in this company's schema)
    says so and the agent may see it; None otherwise."""
    survivor = merge_services.thread_merged_into(public_id=public_id)
    if survivor is None:
        return None
    try:
        return selectors.thread_get_for_agent(agent=agent, public_id=survivor.public_id)
    except Http404:
        return None


def _was_deleted(agent: User, public_id: Any) -> bool:
    """Whether the thread was deleted with its contact, told to active agents only."""
    return agent.is_active and merge_services.thread_was_deleted(public_id=public_id)


def _thread_url(thread: Thread, request: HttpRequest) -> str:
    # The list pane's filters come along.
    url = reverse("inbox:thread_detail", args=[thread.public_id])
    return f"{url}?{request.GET.urlencode()}" if request.GET else url


@require_GET
@login_required
def thread_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    agent = _agent(request)
    try:
        thread = selectors.thread_get_for_agent(agent=agent, public_id=public_id)
    except Http404:
        survivor = _merged_into(agent, public_id)
        if survivor is None:
            if not _was_deleted(agent, public_id):
                raise
            flash.error(request, _("This conversation was deleted."))
            return redirect("inbox:thread_list")
        flash.info(request, _("That thread was merged into this one."))
        return redirect(_thread_url(survivor, request))
    thread_services.thread_mark_read(thread=thread)
    others = presence.presence_touch(thread=thread, agent=agent)
    timeline, older = _message_page(thread, None)
    list_form = forms.ThreadFilterForm(request.GET)
    list_form.is_valid()
    list_form.cleaned_data.pop("after", None)
    # One read of the labels for the list's filter and the thread's label picker.
    labels = list(selectors.label_list())
    context = {
        **_thread_context(request, thread, labels=labels, others=others),
        **_list_context(request, list_form, labels=labels),
        "timeline": timeline,
        "older_cursor": older,
        "poll_since": timezone.now().isoformat(),
    }
    return render(request, "inbox/thread_detail.html", context)


@require_GET
@login_required
def thread_messages_older(request: HttpRequest, public_id: str) -> HttpResponse:
    thread = selectors.thread_get_for_agent(agent=_agent(request), public_id=public_id)
    form = forms.MessagePageForm(request.GET)
    if not form.is_valid() or not form.cleaned_data["before"]:
        return _bad_request(form) if form.errors else HttpResponseBadRequest("`before` is required.")
    timeline, older = _message_page(thread, form.cleaned_data["before"])
    return render(
        request, "inbox/_timeline_older.html", {"thread": thread, "timeline": timeline, "older_cursor": older}
    )


def _thread_gone_live(request: HttpRequest, public_id: str) -> HttpResponse:
    """The polled thread is gone: htmx takes the page (HX-Redirect) to the thread it was merged
    into, or to the list when it was deleted, with a message either way."""
    if not _is_htmx(request):
        raise Http404("Not found.")
    survivor = _merged_into(_agent(request), public_id)
    if survivor is not None:
        flash.info(request, _("The thread you had open was merged into this one."))
        url = reverse("inbox:thread_detail", args=[survivor.public_id])
    elif _was_deleted(_agent(request), public_id):
        flash.error(request, _("This conversation was deleted."))
        url = reverse("inbox:thread_list")
    else:
        flash.error(request, _("That thread no longer exists."))
        url = reverse("inbox:thread_list")
    response = HttpResponse(status=200)
    response["HX-Redirect"] = url
    return response


@require_GET
@login_required
def thread_updates(request: HttpRequest, public_id: str) -> HttpResponse:
    agent = _agent(request)
    try:
        thread = selectors.thread_get_for_agent(agent=agent, public_id=public_id)
    except Http404:
        return _thread_gone_live(request, public_id)
    form = forms.ThreadPollForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    now = timezone.now()
    since = form.cleaned_data["since"] - POLL_OVERLAP
    others = presence.presence_touch(thread=thread, agent=agent)
    changed = selectors.message_list_changed_for_thread(thread=thread, since=since, watched=form.cleaned_data["watch"])
    notes = selectors.note_list_created_for_thread(thread=thread, since=since)
    if thread.unread_count:
        # The agent is looking at the thread as the message comes in.
        thread_services.thread_mark_read(thread=thread)
    thread_changed = thread.updated_at > since
    timeline = display.timeline([*changed, *notes])
    if merge_services.merge_events_for_thread(thread=thread, start=since):
        # A merge just happened (inbox/services/merge.py): its "Merged from …" event and the
        # messages and notes it brought, which are older than `since`, come as the latest
        # page again; rows the page already shows are identical and ignored by inbox.js.
        page, _older = _message_page(thread, None)
        rows = {(row["kind"], row["id"]): row for row in [*page, *timeline]}
        timeline = sorted(rows.values(), key=lambda row: row["sort"])
    context = {
        # Header and composer are sent again only when the thread itself changed.
        **(_thread_context(request, thread, others=others) if thread_changed else {}),
        "thread": thread,
        "timeline": timeline,
        "thread_changed": thread_changed,
        "others": others,
        "poll_since": now.isoformat(),
    }
    return render(request, "inbox/_thread_updates.html", context)


@require_POST
@login_required
def thread_typing(request: HttpRequest, public_id: str) -> HttpResponse:
    agent = _agent(request)
    thread = selectors.thread_get_for_agent(agent=agent, public_id=public_id)
    presence.presence_touch(thread=thread, agent=agent, typing=True)
    return HttpResponse(status=204)


def _back_to_thread(thread: Thread) -> HttpResponse:
    return redirect("inbox:thread_detail", public_id=thread.public_id)


def _composer(request: HttpRequest, thread: Thread, status: int = 200, **forms_: Any) -> HttpResponse:
    context = {**_thread_context(request, thread), **forms_}
    return render(request, "inbox/_composer.html", context, status=status)


@require_POST
@login_required
def thread_reply(request: HttpRequest, public_id: str) -> HttpResponse:
    agent = _agent(request)
    thread = selectors.thread_get_for_agent(agent=agent, public_id=public_id)
    form = forms.ReplyForm(request.POST, request.FILES)
    composer_error = ""
    if form.is_valid():
        try:
            message_services.message_send(thread=thread, sender=agent, **form.send_arguments())
        except (ValidationError, InboxError, PlanLimitExceeded) as exc:
            composer_error = _reply_errors_add(form, exc)
        else:
            if _is_htmx(request):
                return _composer(request, thread)
            return _back_to_thread(thread)
    if _is_htmx(request):
        # The window may have closed since the page loaded: the composer changes mode.
        return _composer(request, thread, status=400, reply_form=form, composer_error=composer_error)
    flash.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
    return _back_to_thread(thread)


def _reply_errors_add(form: forms.ReplyForm, exc: ValidationError | InboxError | PlanLimitExceeded) -> str:
    """Puts a refused send's reasons on the reply form's fields; answers the first one."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error("attachment" if field == "media" else "text", errors)
    else:
        form.add_error("text", _first_error(exc))
    return _first_error(exc)


@require_POST
@login_required
def thread_reply_template(request: HttpRequest, public_id: str) -> HttpResponse:
    agent = _agent(request)
    thread = selectors.thread_get_for_agent(agent=agent, public_id=public_id)
    form = forms.TemplateReplyForm(request.POST, templates=selectors.template_list(approved_only=True))
    if form.is_valid():
        try:
            message_services.message_send(
                thread=thread,
                sender=agent,
                type=Message.Type.TEMPLATE,
                template=form.templates[form.cleaned_data["template"]],
                template_parameters=form.cleaned_data["parameters"],
            )
        except (ValidationError, InboxError, PlanLimitExceeded) as exc:
            form.add_error(None, _first_error(exc))
        else:
            if _is_htmx(request):
                return _composer(request, thread)
            return _back_to_thread(thread)
    if _is_htmx(request):
        return _composer(request, thread, status=400, template_form=form)
    flash.error(request, "The template was not sent: " + "; ".join(e for errs in form.errors.values() for e in errs))
    return _back_to_thread(thread)


@require_POST
@login_required
def thread_note(request: HttpRequest, public_id: str) -> HttpResponse:
    agent = _agent(request)
    thread = selectors.thread_get_for_agent(agent=agent, public_id=public_id)
    form = forms.NoteForm(request.POST)
    if form.is_valid():
        try:
            thread_services.note_create(thread=thread, author=agent, body=form.cleaned_data["body"])
        except ValidationError as exc:
            flash.error(request, _first_error(exc))
    else:
        flash.error(request, "The note is empty.")
    return _back_to_thread(thread)


@require_POST
@login_required
def thread_assign(request: HttpRequest, public_id: str) -> HttpResponse:
    agent = _agent(request)
    thread = selectors.thread_get_for_agent(agent=agent, public_id=public_id)
    form = forms.AssignForm(request.POST)
    if not form.is_valid():
        return _bad_request(form)
    choice = form.cleaned_data["agent"]
    assignee = agent if choice == "me" else selectors.agent_get(public_id=choice) if choice else None
    try:
        thread_services.thread_assign(thread=thread, assignee=assignee)
    except ValidationError as exc:
        flash.error(request, _first_error(exc))
    else:
        flash.success(request, f"Assigned to {assignee.get_short_name()}." if assignee else "Unassigned.")
    return _back_to_thread(thread)


@require_POST
@login_required
def thread_status(request: HttpRequest, public_id: str) -> HttpResponse:
    thread = selectors.thread_get_for_agent(agent=_agent(request), public_id=public_id)
    form = forms.StatusForm(request.POST)
    if not form.is_valid():
        flash.error(request, "Choose a status (and, to snooze, a time).")
        return _back_to_thread(thread)
    snoozed_until = form.cleaned_data["snoozed_until"]
    if snoozed_until is not None and timezone.is_naive(snoozed_until):
        snoozed_until = timezone.make_aware(snoozed_until, UTC)
    try:
        thread_services.thread_status_set(
            thread=thread, status=form.cleaned_data["status"], snoozed_until=snoozed_until, by=_agent(request)
        )
    except ValidationError as exc:
        flash.error(request, _first_error(exc))
    else:
        flash.success(request, f"The thread is {thread.get_status_display().lower()}.")
    return _back_to_thread(thread)


@require_POST
@login_required
def thread_labels(request: HttpRequest, public_id: str) -> HttpResponse:
    thread = selectors.thread_get_for_agent(agent=_agent(request), public_id=public_id)
    form = forms.LabelsForm(request.POST, label_names=[label.name for label in selectors.label_list()])
    if not form.is_valid():
        return _bad_request(form)
    thread_services.thread_labels_set(thread=thread, labels=form.names())
    flash.success(request, "Labels saved.")
    return _back_to_thread(thread)
