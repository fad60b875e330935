"""The agents' browser pages of a company host: log in and out, password reset, settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import forms, selectors, services, throttle
from accounts.errors import InvitationUnusableError
from accounts.models import User
from billing.errors import PlanLimitExceeded

View = Callable[..., HttpResponse]


def team_manager_required(view: View) -> View:
    """Logged in as an owner or admin; agents get a readable 403 page."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.can_manage_team:  # type: ignore[union-attr]
            return render(request, "accounts/forbidden.html", {"message": services.NOT_A_MANAGER}, status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _form_errors_add(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _flash_refusal(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/home.html")


# --- log in, log out, password reset ----------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = forms.LoginForm
    redirect_authenticated_user = True
    email = ""
    retry_after = 0

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.email = services.email_normalize(request.POST.get("username", ""))
        self.retry_after = throttle.login_retry_after(request=request, email=self.email)
        return super().post(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "retry_after": self.retry_after}

    def form_valid(self, form: forms.LoginForm) -> HttpResponse:  # type: ignore[override]
        throttle.login_success_record(request=self.request, email=self.email)
        return super().form_valid(form)

    def form_invalid(self, form: forms.LoginForm) -> HttpResponse:  # type: ignore[override]
        status = 200
        if self.retry_after:
            status = 429
        elif form.has_error(NON_FIELD_ERRORS, "invalid_login"):
            throttle.login_failure_record(request=self.request, email=self.email)
        response = self.render_to_response(self.get_context_data(form=form), status=status)
        if self.retry_after:
            response["Retry-After"] = str(self.retry_after)
        return response


login_view = LoginView.as_view()
logout_view = auth_views.LogoutView.as_view()


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    # The form queues the e-mail; the worker renders and sends it (forms.password_reset_email_send).
    form_class = forms.PasswordResetForm
    success_url = reverse_lazy("password_reset_done")
    email = ""
    retry_after = 0

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.email = services.email_normalize(request.POST.get("email", ""))
        self.retry_after = throttle.password_reset_retry_after(request=request, email=self.email)
        return super().post(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "retry_after": self.retry_after}

    def form_valid(self, form: Any) -> HttpResponse:
        # Counted whether the address has an account or not: the answer is the same page.
        throttle.password_reset_record(request=self.request, email=self.email)
        return super().form_valid(form)

    def form_invalid(self, form: Any) -> HttpResponse:
        if not self.retry_after:
            return super().form_invalid(form)
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(self.retry_after)
        return response


password_reset = PasswordResetView.as_view()
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/password_reset_confirm.html"
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)


# --- settings: team --------------------------------------------------------------------------


@require_GET
@login_required
def settings_index(request: HttpRequest) -> HttpResponse:
    return redirect("settings_team")


def _team_page(request: HttpRequest, invite_form: forms.InvitationCreateForm, status: int = 200) -> HttpResponse:
    context = {
        "members": selectors.user_list(),
        "invitations": selectors.invitation_list_pending(),
        "invite_form": invite_form,
        "invitation_ttl_hours": settings.INVITATION_TTL_HOURS,
        "section": "team",
    }
    return render(request, "accounts/settings_team.html", context, status=status)


@require_GET
@team_manager_required
def settings_team(request: HttpRequest) -> HttpResponse:
    return _team_page(request, forms.InvitationCreateForm(actor=request.user))  # type: ignore[arg-type]


@require_POST
@team_manager_required
def agent_invite(request: HttpRequest) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    form = forms.InvitationCreateForm(request.POST, actor=actor)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                actor=actor, email=form.cleaned_data["email"], role=form.cleaned_data["role"]
            )
        except ValidationError as exc:
            _form_errors_add(form, exc)
        except PlanLimitExceeded as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("An invitation is on its way to %(email)s.") % {"email": invitation.email})
            return redirect("settings_team")
    return _team_page(request, form, status=400)


@require_POST
@team_manager_required
def agent_deactivate(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    member = selectors.user_get_for_manager(actor=actor, public_id=public_id)
    try:
        services.user_deactivate(actor=actor, user=member)
    except ValidationError as exc:
        _flash_refusal(request, exc)
    else:
        messages.success(request, _("%(member)s can no longer log in.") % {"member": member})
    return redirect("settings_team")


@require_POST
@team_manager_required
def agent_reactivate(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    member = selectors.user_get_for_manager(actor=actor, public_id=public_id)
    try:
        services.user_reactivate(actor=actor, user=member)
    except ValidationError as exc:
        _flash_refusal(request, exc)
    except PlanLimitExceeded as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(member)s can log in again.") % {"member": member})
    return redirect("settings_team")


@require_POST
@team_manager_required
def invitation_revoke(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    invitation = selectors.invitation_get_for_manager(actor=actor, public_id=public_id)
    try:
        services.invitation_revoke(actor=actor, invitation=invitation)
    except ValidationError as exc:
        _flash_refusal(request, exc)
    else:
        messages.success(request, _("The invitation to %(email)s was withdrawn.") % {"email": invitation.email})
    return redirect("settings_team")


# --- settings: API keys --------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@team_manager_required
def settings_api_keys(request: HttpRequest) -> HttpResponse:
    form = forms.ApiKeyCreateForm(request.POST or None)
    issued = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                issued = services.api_key_create(name=form.cleaned_data["name"], created_by=request.user)  # type: ignore[arg-type]
            except ValidationError as exc:
                _form_errors_add(form, exc)
            else:
                # The clear key is on this response only; a reload shows the list without it.
                form = forms.ApiKeyCreateForm()
        if issued is None:
            status = 400
    context = {"api_keys": selectors.api_key_list(), "form": form, "issued": issued, "section": "api_keys"}
    return render(request, "accounts/settings_api_keys.html", context, status=status)


@require_POST
@team_manager_required
def api_key_revoke(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    api_key = selectors.api_key_get_for_manager(actor=request.user, public_id=public_id)  # type: ignore[arg-type]
    services.api_key_revoke(api_key=api_key)
    messages.success(request, _("The key “%(name)s” was revoked; requests with it now fail.") % {"name": api_key.name})
    return redirect("settings_api_keys")


# --- invitation links ----------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = selectors.invitation_get_for_accept(token=token)
    except InvitationUnusableError as exc:
        status = 404 if exc.is_unknown else 410
        return render(request, "accounts/invitation_invalid.html", {"message": exc.message}, status=status)
    form = forms.InvitationAcceptForm(request.POST or None, invitation=invitation)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                invitation=invitation, name=form.cleaned_data["name"], password=form.cleaned_data["password1"]
            )
        except ValidationError as exc:
            return render(request, "accounts/invitation_invalid.html", {"message": exc.messages[0]}, status=410)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome to %(name)s!") % {"name": request.company.name})  # type: ignore[attr-defined]
        return redirect("home")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/invitation_accept.html", {"form": form, "invitation": invitation}, status=status)
