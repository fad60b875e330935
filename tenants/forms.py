from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation

from tenants import services


class SignupForm(forms.Form):
    company_name = forms.CharField(max_length=200, label="Company name")
    slug = forms.CharField(
        max_length=40,
        label="Subdomain",
        help_text="Lowercase letters, digits and hyphens; your inbox will live at <subdomain>.<this site>.",
    )
    owner_name = forms.CharField(max_length=150, label="Your name")
    email = forms.EmailField(max_length=254, label="Your e-mail")
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), label="Password", strip=False)

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
