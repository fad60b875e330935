from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from tenants import health, services
from tenants.forms import SignupForm
from tenants.throttle import signup_rate_exceeded

logger = logging.getLogger(__name__)


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "tenants/landing.html")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if signup_rate_exceeded(request):
            form.add_error(None, "Too many sign-ups from your network. Please try again in an hour.")
            return render(request, "tenants/signup.html", {"form": form}, status=429)
        data = form.cleaned_data
        try:
            company = services.company_create(
                slug=data["slug"],
                name=data["company_name"],
                plan_code="free",
                owner_email=data["email"],
                owner_name=data["owner_name"],
                owner_password=data["password"],
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                target = {"name": "company_name", "owner_email": "email"}.get(field, field)
                form.add_error(target if target in form.fields else None, messages)
        else:
            return HttpResponseRedirect(services.company_url(company, "/login/?welcome=1"))
    status = 400 if request.method == "POST" else 200
    return render(request, "tenants/signup.html", {"form": form}, status=status)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = health.run_checks()
    ok = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if ok else "error", "checks": checks}, status=200 if ok else 503)
