"""Bearer API keys: `Authorization: Bearer <key>` on a company's host.

Keys live in each company's schema and the lookup runs in the schema the host selected,
so a key of another company finds nothing and answers 401 like an unknown key.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts import services
from accounts.models import ApiKey

MALFORMED_HEADER_MESSAGE = gettext_lazy("Send the key as `Authorization: Bearer <api key>`.")
UNKNOWN_KEY_MESSAGE = gettext_lazy("Unknown or revoked API key.")


class ApiKeyPrincipal:
    """request.user for API calls: the company, acting through one key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != self.keyword.lower() or not key:
            raise exceptions.AuthenticationFailed(MALFORMED_HEADER_MESSAGE)
        # Also touches last_used_at, at most once per API_KEY_TOUCH_INTERVAL.
        api_key = services.api_key_authenticate(key=key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(UNKNOWN_KEY_MESSAGE)
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) with `WWW-Authenticate: Bearer`.
        return self.keyword


def request_api_key(request: Request) -> ApiKey:
    """The key that authenticated this request; for views behind IsAuthenticated."""
    api_key = request.auth
    if not isinstance(api_key, ApiKey):
        raise exceptions.NotAuthenticated()
    return api_key


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[misc]  # untyped base
    """Documents ApiKeyAuthentication as the HTTP bearer scheme in the OpenAPI document."""

    target_class = "inbox.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        scheme = build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")  # noqa: S106  # a scheme name
        scheme["description"] = "An API key of the company, made in Settings → API keys or by an operator."
        return scheme
