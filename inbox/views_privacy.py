"""Contact privacy and merge in the browser app: export (owners), erase with a typed
confirmation (owners), merge another contact into this one and merge a thread into another
thread (owners and admins), and Settings → Privacy (retention period, the company's privacy
log)."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import User
from accounts.views import team_manager_required
from inbox import selectors
from inbox.models import Contact, PrivacyLog, Thread
from inbox.services import merge, privacy

ERASE_WORD = "ERASE"
MERGE_CANDIDATES_SHOWN = 20
THREAD_CANDIDATES_SHOWN = 20
PRIVACY_LOG_SHOWN = 100


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "accounts/forbidden.html", {"message": message}, status=403)


def _back_thread(request: HttpRequest, contact: Contact) -> Thread | None:
    """The thread the agent came from (`?thread=`), if it still belongs to this contact."""
    try:
        public_id = uuid.UUID(request.GET.get("thread") or request.POST.get("thread") or "")
    except ValueError:
        public_id = None  # absent or not an id: fall back to the contact's latest thread
    if public_id:
        thread = selectors.thread_queryset().filter(public_id=public_id, contact=contact).first()
        if thread is not None:
            return thread
    return selectors.thread_queryset().filter(contact=contact).order_by("-last_message_at").first()


def _contact_for(request: HttpRequest, public_id: Any) -> Contact:
    if not _user(request).is_active:
        raise Http404("Not found.")
    return selectors.contact_get(public_id=public_id)


# --- export and erasure (owners) ---------------------------------------------------------------


@never_cache
@require_GET
@login_required
def contact_export(request: HttpRequest, public_id: str) -> HttpResponse:
    contact = _contact_for(request, public_id)
    try:
        archive = privacy.contact_export(contact=contact, actor=_user(request))
    except PermissionDenied as exc:
        return _forbidden(request, str(exc))
    return FileResponse(
        archive, as_attachment=True, filename=f"contact-{contact.public_id}.zip", content_type="application/zip"
    )


class EraseForm(forms.Form):
    confirmation = forms.CharField(max_length=20, strip=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built per request: the label is in the agent's language, the word itself is not.
        self.fields["confirmation"].label = _("Type %(word)s to confirm") % {"word": ERASE_WORD}

    def clean_confirmation(self) -> str:
        value = self.cleaned_data["confirmation"]
        if value != ERASE_WORD:
            raise ValidationError(_("Type %(word)s in capital letters to confirm.") % {"word": ERASE_WORD})
        return value


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def contact_erase(request: HttpRequest, public_id: str) -> HttpResponse:
    contact = _contact_for(request, public_id)
    if _user(request).role != User.Role.OWNER:
        return _forbidden(request, _("Only owners can erase a contact."))
    back = _back_thread(request, contact)
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            privacy.contact_erase(contact=contact, actor=_user(request))
        except ValidationError as exc:
            form.add_error(None, exc.messages[0])
        else:
            flash.success(request, _("The contact was erased. Their messages' content and files are gone."))
            return redirect("inbox:thread_list")
    context = {"contact": contact, "form": form, "back": back, "erase_word": ERASE_WORD}
    return render(request, "inbox/contact_erase.html", context, status=400 if form.errors else 200)


# --- merge (owners and admins) -----------------------------------------------------------------


def _candidates(*, contact: Contact, search: str) -> list[Contact]:
    if not search:
        return []
    return list(
        selectors.contact_list(search=search)
        .exclude(pk=contact.pk)
        .filter(erased_at__isnull=True)[:MERGE_CANDIDATES_SHOWN]
    )


@never_cache
@require_GET
@team_manager_required
def contact_merge_pick(request: HttpRequest, public_id: str) -> HttpResponse:
    """Search for the contact to merge into this one."""
    contact = _contact_for(request, public_id)
    search = (request.GET.get("q") or "").strip()[:100]
    context = {
        "contact": contact,
        "search": search,
        "candidates": _candidates(contact=contact, search=search),
        "back": _back_thread(request, contact),
    }
    return render(request, "inbox/contact_merge_pick.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@team_manager_required
def contact_merge_confirm(request: HttpRequest, public_id: str, from_id: str) -> HttpResponse:
    """Both contacts side by side, then the merge."""
    contact = _contact_for(request, public_id)
    source = _contact_for(request, from_id)
    back = _back_thread(request, contact)
    error = ""
    if request.method == "POST":
        try:
            merge.contact_merge(into=contact, source=source, actor=_user(request))
        except ValidationError as exc:
            error = exc.messages[0]
        except PermissionDenied as exc:
            return _forbidden(request, str(exc))
        else:
            flash.success(request, _("%(name)s was merged into this contact.") % {"name": source.display_name})
            back = _back_thread(request, contact)
            if back is not None:
                return redirect("inbox:thread_detail", back.public_id)
            return redirect("inbox:thread_list")
    context = {
        "contact": contact,
        "source": source,
        "back": back,
        "error": error,
        "contact_threads": list(selectors.thread_queryset().filter(contact=contact)),
        "source_threads": list(selectors.thread_queryset().filter(contact=source)),
    }
    return render(request, "inbox/contact_merge_confirm.html", context, status=400 if error else 200)


# --- thread merge (owners and admins) ----------------------------------------------------------
# From a thread's page: this thread is merged into the one picked (the survivor), as
# POST /api/v1/threads/<picked>/merge/ {"from": <this>} does.


def _thread_or_none(request: HttpRequest, public_id: Any) -> Thread | None:
    if not _user(request).is_active:
        raise Http404("Not found.")
    return selectors.thread_queryset().filter(public_id=public_id).first()


def _thread_gone(request: HttpRequest, public_id: Any) -> HttpResponse:
    """This thread was merged away (a second click, another tab) or is gone: to the thread it
    went into when there is one, with a message either way."""
    survivor = merge.thread_merged_into(public_id=public_id)
    if survivor is not None:
        flash.info(request, _("That thread was already merged into this one."))
        return redirect("inbox:thread_detail", survivor.public_id)
    flash.error(request, _("That thread no longer exists."))
    return redirect("inbox:thread_list")


def _thread_candidates(*, thread: Thread, search: str) -> tuple[list[Thread], list[Thread]]:
    """Threads to merge this one into: the same contact's other threads, then other
    contacts' threads, newest activity first; `search` (contact name or phone) narrows both."""
    threads = selectors.thread_queryset().exclude(pk=thread.pk).filter(contact__erased_at__isnull=True)
    if search:
        threads = threads.filter(contact__in=selectors.contact_list(search=search).order_by().values("pk"))
    threads = threads.order_by("-last_message_at", "-id")
    same = list(threads.filter(contact_id=thread.contact_id)[:THREAD_CANDIDATES_SHOWN])
    others = list(threads.exclude(contact_id=thread.contact_id)[: THREAD_CANDIDATES_SHOWN - len(same)])
    return same, others


@never_cache
@require_GET
@login_required
def thread_merge_pick(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Pick the thread this one is merged into."""
    if not _user(request).can_manage_team:
        return _forbidden(request, str(merge.MERGE_NOT_ALLOWED))
    thread = _thread_or_none(request, public_id)
    if thread is None:
        return _thread_gone(request, public_id)
    search = (request.GET.get("q") or "").strip()[:100]
    same, others = _thread_candidates(thread=thread, search=search)
    context = {"thread": thread, "search": search, "same_contact": same, "other_contacts": others}
    return render(request, "inbox/thread_merge_pick.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def thread_merge_confirm(request: HttpRequest, public_id: uuid.UUID, into_id: uuid.UUID) -> HttpResponse:
    """Both threads and what moves; the POST merges this thread into `into_id`."""
    if not _user(request).can_manage_team:
        return _forbidden(request, str(merge.MERGE_NOT_ALLOWED))
    source = _thread_or_none(request, public_id)
    if source is None:
        return _thread_gone(request, public_id)
    into = _thread_or_none(request, into_id)
    if into is None:
        flash.error(request, _("The thread you picked no longer exists. Please pick another one."))
        return redirect("inbox:thread_merge", source.public_id)
    error = _("A thread cannot be merged with itself.") if into.pk == source.pk else ""
    if request.method == "POST" and not error:
        label = {"name": source.contact.display_name, "number": source.phone_number.display_number}
        try:
            merge.thread_merge(into=into, source=source, actor=_user(request))
        except ValidationError as exc:
            if not Thread.objects.filter(pk=source.pk).exists():  # merged by someone else meanwhile
                return _thread_gone(request, public_id)
            error = exc.messages[0]
        except PermissionDenied as exc:
            return _forbidden(request, str(exc))
        else:
            flash.success(
                request,
                _("The thread with %(name)s via %(number)s was merged into this one. Its messages are here now.")
                % label,
            )
            return redirect("inbox:thread_detail", into.public_id)
    context = {
        "thread": source,
        "into": into,
        "error": error,
        "preview": merge.thread_merge_preview(into=into, source=source) if into.pk != source.pk else None,
    }
    return render(request, "inbox/thread_merge_confirm.html", context, status=400 if error else 200)


# --- settings → privacy ------------------------------------------------------------------------


class RetentionForm(forms.Form):
    retention_days = forms.IntegerField(
        label=gettext_lazy("Purge message content of resolved threads after (days)"),
        required=False,
        min_value=1,
        max_value=privacy.RETENTION_MAX_DAYS,
        help_text=gettext_lazy(
            "Empty keeps everything (the default). Each night, the text and files of messages in resolved threads "
            "whose last message is older than this are deleted; the conversation's outline stays."
        ),
    )


@never_cache
@require_http_methods(["GET", "POST"])
@team_manager_required
def settings_privacy(request: HttpRequest) -> HttpResponse:
    company = request.company  # type: ignore[attr-defined]
    is_owner = _user(request).role == User.Role.OWNER
    if request.method == "POST":
        if not is_owner:
            return _forbidden(request, _("Only owners can change the retention period."))
        form = RetentionForm(request.POST)
        if form.is_valid():
            privacy.retention_update(
                company=company, retention_days=form.cleaned_data["retention_days"], actor=_user(request)
            )
            flash.success(request, _("Retention period saved."))
            return redirect("settings_privacy")
    else:
        form = RetentionForm(initial={"retention_days": company.retention_days})
    context = {
        "form": form,
        "is_owner": is_owner,
        "log": list(PrivacyLog.objects.order_by("-created_at", "-id")[:PRIVACY_LOG_SHOWN]),
        "section": "privacy",
    }
    return render(request, "inbox/settings_privacy.html", context, status=400 if form.errors else 200)
