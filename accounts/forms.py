"""Form shapes and field validation for the agents' pages; rules live in services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.http import HttpRequest
from django.template import loader
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import services, tasks
from accounts.models import Invitation, User
from tenants.services import company_url


def throttled_message(retry_after: int) -> str:
    minutes = max(1, -(-retry_after // 60))
    return ngettext(
        "Too many failed attempts. Try again in %(n)d minute.",
        "Too many failed attempts. Try again in %(n)d minutes.",
        minutes,
    ) % {"n": minutes}


def reset_throttled_message(retry_after: int) -> str:
    minutes = max(1, -(-retry_after // 60))
    return ngettext(
        "Too many requests for a new password. Try again in %(n)d minute.",
        "Too many requests for a new password. Try again in %(n)d minutes.",
        minutes,
    ) % {"n": minutes}


class LoginForm(AuthenticationForm):
    """Log in by e-mail. With `retry_after` set, the password is not even checked."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("That e-mail and password do not match an active account here."),
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, retry_after: int = 0, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.retry_after = retry_after
        self.fields["username"].label = _("E-mail")
        self.fields["username"].widget = forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})

    def clean_username(self) -> str:
        return services.email_normalize(self.cleaned_data["username"])

    def clean(self) -> dict[str, Any]:
        if self.retry_after:
            raise ValidationError(throttled_message(self.retry_after), code="throttled")
        return super().clean()


class InvitationCreateForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(label=_("Role"), choices=User.Role.choices, initial=User.Role.AGENT)

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if actor.role != User.Role.OWNER:
            self.fields["role"].choices = [c for c in User.Role.choices if c[0] != User.Role.OWNER]


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Key name"),
        max_length=100,
        help_text=_("Where the key is used, e.g. “CRM sync”."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class InvitationAcceptForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, invitation: Invitation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invitation = invitation
        # Built per request, not at import, so the validators' help speaks the active language.
        self.fields["password1"].help_text = password_validation.password_validators_help_text_html()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        password1, password2 = data.get("password1"), data.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords differ."))
        elif password1:
            candidate = User(email=self.invitation.email, name=data.get("name", ""))
            try:
                password_validation.validate_password(password1, user=candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's reset form; the e-mail is queued, and the worker mints the token and sends it.

    In the request, `save()` only finds the accounts (the same query for known and unknown
    addresses) and queues one task per account after commit, so a slow mail server never
    makes a known address answer slower than an unknown one. The token does not cross the
    broker: `password_reset_email_send` (in the worker) makes it and sends Django's own
    e-mail with the templates below.

    Whoever asks (the account holder, or someone typing their address) reads the page in
    the browser's language; the e-mail goes to the account holder, so their profile wins.
    With `retry_after` set (too many requests, accounts/throttle.py) it is refused and
    sends nothing.
    """

    subject_template_name = "emails/password-reset-subject.txt"
    email_template_name = "emails/password-reset-body.txt"
    html_email_template_name = "emails/password-reset-body.html"

    def __init__(self, *args: Any, retry_after: int = 0, user_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after
        self.user_id = user_id

    def clean(self) -> dict[str, Any]:
        if self.retry_after:
            raise ValidationError(reset_throttled_message(self.retry_after), code="throttled")
        return super().clean()

    def get_users(self, email: str) -> Iterator[User]:
        users = super().get_users(email)
        if self.user_id is None:
            return users
        # The worker's form: only the account the task names, if it may still reset.
        return (user for user in users if user.pk == self.user_id)

    def save(  # type: ignore[override]
        self,
        domain_override: str | None = None,
        use_https: bool = False,
        request: HttpRequest | None = None,
        **options: Any,
    ) -> None:
        """Queues the reset e-mail of each account with this address (none for an unknown one).

        The view's other `options` (templates, token generator, extra context) are the
        worker's business: see `password_reset_email_send`.
        """
        if domain_override:
            site_name = domain = domain_override
        else:
            site = get_current_site(request)
            site_name, domain = site.name, site.domain
        for user in self.get_users(self.cleaned_data["email"]):
            language = user.language or translation.get_language()
            tasks.password_reset_email_send_task.delay_on_commit(user.pk, domain, site_name, use_https, language)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        """Django's rendering, without its `except Exception: log` around the send: the worker's
        task retries a transient mail error instead of losing the e-mail."""
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(subject, body, from_email, [to_email])
        if html_email_template_name is not None:
            message.attach_alternative(loader.render_to_string(html_email_template_name, context), "text/html")
        message.send()


def password_reset_email_send(
    *, user_id: int, domain: str, site_name: str, use_https: bool, language: str | None = None
) -> None:
    """Mints a reset token for one account and sends Django's reset e-mail (in the worker).

    Sends nothing when the account is gone, inactive or has no usable password any more.
    Each send makes a fresh token, so a repeated delivery still sends a working link.
    Raises what the mail backend raised (the task retries the transient errors).
    """
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    form = PasswordResetForm({"email": user.email}, user_id=user_id)
    if not form.is_valid():
        return
    company = services.company_current()
    with translation.override(language or settings.LANGUAGE_CODE):
        DjangoPasswordResetForm.save(
            form,
            domain_override=domain,
            use_https=use_https,
            subject_template_name=form.subject_template_name,
            email_template_name=form.email_template_name,
            html_email_template_name=form.html_email_template_name,
            # Links point at the company's canonical host, whatever Host header came in.
            extra_email_context={"site_name": site_name, "company": company, "site_url": company_url(company, "")},
        )
