"""The interface language for a signed-in agent (docs/i18n.md)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation


class UserLanguageMiddleware:
    """Switch to the agent's chosen language, overriding the browser's.

    Django's LocaleMiddleware (earlier in the chain) has already activated the language
    from the Accept-Language header; it runs before authentication, so it cannot know the
    agent. An agent who picked a language in their profile gets it on every device,
    whatever the browser says; an empty choice keeps the browser's. LocaleMiddleware's
    response half then sets Content-Language from whatever is active here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language and translation.check_for_language(language):
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
