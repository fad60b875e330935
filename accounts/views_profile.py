"""The agent's own profile: the interface language (docs/i18n.md)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.models import User


class ProfileLanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Interface language"),
        choices=[("", _("As my browser says")), *settings.LANGUAGES],
        required=False,
        help_text=_("Your choice applies on every device you sign in with."),
    )


@require_http_methods(["GET", "POST"])
@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """Every agent, not only managers, may pick their own language."""
    user: User = request.user  # type: ignore[assignment]
    if request.method == "POST":
        form = ProfileLanguageForm(request.POST)
        if form.is_valid():
            services.user_language_set(user=user, language=form.cleaned_data["language"])
            # Answer in the new language at once; an empty choice falls back to the browser.
            translation.activate(user.language or translation.get_language_from_request(request))
            messages.success(request, gettext("Your profile is saved."))
            return redirect("profile")
        status = 400
    else:
        form = ProfileLanguageForm(initial={"language": user.language})
        status = 200
    return render(request, "accounts/profile.html", {"form": form}, status=status)
