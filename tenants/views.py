from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages as django_messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from rest_framework.exceptions import MethodNotAllowed

from accounts.models import User
from config.api import error_body
from inbox.phones import PHONE_INVALID, phone_normalize
from tenants import health, selectors, services, verification
from tenants.forms import BusinessProfileForm, SignupForm
from tenants.throttle import signup_rate_exceeded, verify_rate_exceeded

logger = logging.getLogger(__name__)

OWNER_ONLY = _("Only the company's owner can submit the business details for verification.")


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "tenants/landing.html")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if signup_rate_exceeded(request):
            form.add_error(None, _("Too many sign-ups from your network. Please try again in an hour."))
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


# --- the public check (public host) -------------------------------------------------------


def _verify_result(request: HttpRequest) -> tuple[int, dict[str, Any]]:
    """(status, body) of the public check for ?phone= and an optional ?token=."""
    raw = request.GET.get("phone", "")
    try:
        phone = phone_normalize(raw)
    except ValidationError:
        return 400, error_body("invalid", PHONE_INVALID, {"phone": [PHONE_INVALID]})
    found = selectors.number_verification_get(phone=phone)
    profile = found.profile
    body: dict[str, Any] = {"phone": phone, "verified": profile is not None, "company": None}
    if profile is not None:
        body["company"] = {
            "display_name": profile.verified_display_name or profile.company.name,
            "legal_name": profile.verified_legal_name,
            "website": profile.verified_website,
            "verified_at": profile.verified_at.isoformat().replace("+00:00", "Z") if profile.verified_at else None,
        }
    if "token" in request.GET:
        body["token_valid"] = verification.verify_token_check(
            token=request.GET["token"], company_id=found.company_id, phone=phone
        )
    return 200, body


def _verify_throttled(request: HttpRequest) -> HttpResponse | None:
    retry_after = verify_rate_exceeded(request)
    if retry_after is None:
        return None
    message = str(_("Too many checks from your network. Please try again in a minute."))
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(error_body("rate_limited", message), status=429)
    else:
        response = render(request, "tenants/verify.html", {"throttled": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


@never_cache
def verify_api(request: HttpRequest) -> HttpResponse:
    """GET /api/public/verify?phone=<E.164>[&token=]: is this number a verified company's?

    Another method answers 405 in the API's error envelope (not `require_GET`'s empty body).
    """
    if request.method != "GET":
        message = str(MethodNotAllowed(request.method or "").detail)  # the words of the REST API's 405
        response = JsonResponse(error_body("method_not_allowed", message), status=405)
        response["Allow"] = "GET"
        return response
    throttled = _verify_throttled(request)
    if throttled is not None:
        return throttled
    status, body = _verify_result(request)
    return JsonResponse(body, status=status)


@never_cache
@require_GET
def verify_page(request: HttpRequest) -> HttpResponse:
    """GET /verify/?phone=…: the same answer as a page for customers (a form when no phone)."""
    throttled = _verify_throttled(request)
    if throttled is not None:
        return throttled
    if "phone" not in request.GET:
        return render(request, "tenants/verify.html", {"phone": ""})
    status, body = _verify_result(request)
    context = {"phone": request.GET.get("phone", ""), "result": body if status == 200 else None}
    if status != 200:
        context["error"] = PHONE_INVALID
    return render(request, "tenants/verify.html", context, status=status)


# --- business details (company host, owner) -------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def settings_business(request: HttpRequest) -> HttpResponse:
    """The owner submits the business details for verification; managers may look."""
    user = request.user
    company = request.company  # type: ignore[attr-defined]
    if not user.can_manage_team:  # type: ignore[union-attr]
        return render(request, "accounts/forbidden.html", {"message": OWNER_ONLY}, status=403)
    profile = selectors.business_profile_get(company=company)
    is_owner = user.role == User.Role.OWNER  # type: ignore[union-attr]
    initial = {}
    if profile is not None:
        initial = {field: getattr(profile, field) for field in verification.DETAIL_FIELDS}
        initial["verify_links_enabled"] = profile.verify_links_enabled
    form = BusinessProfileForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if not is_owner:
            return render(request, "accounts/forbidden.html", {"message": OWNER_ONLY}, status=403)
        if form.is_valid():
            try:
                verification.business_profile_submit(company=company, submitted_by=user, **form.cleaned_data)  # type: ignore[arg-type]
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages)
            else:
                django_messages.success(request, "Saved. Your business details are with us for review.")
                return redirect("settings_business")
        status = 400
    context = {
        "form": form,
        "profile": profile,
        "is_owner": is_owner,
        "section": "business",
        "verify_button_url": verification.public_verify_url(query="{{1}}"),
        "verify_page_url": verification.public_verify_url(),
    }
    return render(request, "tenants/settings_business.html", context, status=status)
