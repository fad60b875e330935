"""Test-only helpers that must be importable by settings (not part of production paths)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver

# (urlconf, full route) of every request a test made
REQUESTED_ROUTES: set[tuple[str, str]] = set()
# Included URLconfs counted as one entry: requesting any page below them covers them.
OPAQUE_INCLUDES = ("admin/",)


class UrlCoverageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: object, view_args: object, view_kwargs: object) -> None:
        match = request.resolver_match
        if match is not None:
            urlconf = getattr(request, "urlconf", None) or "config.urls_tenant"
            REQUESTED_ROUTES.add((str(urlconf), match.route))


def all_routes(urlconf: str) -> set[str]:
    routes: set[str] = set()

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if route in OPAQUE_INCLUDES:
                    routes.add(route)
                else:
                    walk(pattern.url_patterns, route)
            else:
                routes.add(route)

    walk(get_resolver(urlconf).url_patterns, "")
    return routes


def untested_routes(urlconfs: list[str]) -> list[str]:
    missing = []
    for urlconf in urlconfs:
        requested = {route for conf, route in REQUESTED_ROUTES if conf == urlconf}
        for route in sorted(all_routes(urlconf)):
            covered = route in requested or (route in OPAQUE_INCLUDES and any(r.startswith(route) for r in requested))
            if not covered:
                missing.append(f"{urlconf}: /{route}")
    return missing
