"""Form shapes and field validation for the agents' pages; rules live in services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, override

from accounts.models import Invitation, User
from accounts.services import email_normalize


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
        return email_normalize(self.cleaned_data["username"])

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
    """Django's reset form; the e-mail speaks the account's language when it has chosen one.

    Whoever asks (the account holder, or someone typing their address) reads the page in
    the browser's language; the e-mail goes to the account holder, so their profile wins.
    With `retry_after` set (too many requests, accounts/throttle.py) it is refused and
    sends nothing.
    """

    def __init__(self, *args: Any, retry_after: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after

    def clean(self) -> dict[str, Any]:
        if self.retry_after:
            raise ValidationError(reset_throttled_message(self.retry_after), code="throttled")
        return super().clean()

    def send_mail(self, *args: Any, **kwargs: Any) -> None:
        context = kwargs.get("context") if "context" in kwargs else args[2]
        language = getattr(context.get("user"), "language", "") or None
        if language is None:
            super().send_mail(*args, **kwargs)
            return
        with override(language):
            super().send_mail(*args, **kwargs)
