from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from tenants import services


class SignupForm(forms.Form):
    company_name = forms.CharField(max_length=200, label=_("Company name"))
    slug = forms.CharField(
        max_length=40,
        label=_("Subdomain"),
        help_text=_("Lowercase letters, digits and hyphens; your inbox will live at <subdomain>.<this site>."),
    )
    owner_name = forms.CharField(max_length=150, label=_("Your name"))
    email = forms.EmailField(max_length=254, label=_("Your e-mail"))
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), label=_("Password"), strip=False)

    def clean_slug(self) -> str:
        slug: str = self.cleaned_data["slug"].strip().lower()
        try:
            services.company_slug_validate(slug=slug)
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["slug"]) from exc
        return slug

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            try:
                password_validation.validate_password(password)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class BusinessProfileForm(forms.Form):
    """The owner's business details (shape only; tenants.verification checks the rules)."""

    legal_name = forms.CharField(max_length=200, label=_("Legal name"), help_text=_("As in the commercial register."))
    display_name = forms.CharField(
        max_length=100, label=_("Display name"), help_text=_("The name customers see next to your messages.")
    )
    website = forms.CharField(
        max_length=200, required=False, label=_("Website"), help_text=_("e.g. https://example.com")
    )
    registration_number = forms.CharField(max_length=64, label=_("Registration number"), help_text=_("e.g. HRB 12345"))
    address = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 3}), label=_("Registered address"))
    verify_links_enabled = forms.BooleanField(
        required=False,
        label=_("Add a verify link to template messages"),
        help_text=_("Templates with a URL button to /verify/{{1}} get a signed link customers can check."),
    )


class RejectionForm(forms.Form):
    """An operator's reason for a rejection, a suspension or a template decision."""

    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), label=_("Reason"))
