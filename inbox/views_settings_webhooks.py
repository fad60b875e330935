"""Settings → Webhooks: owners and admins manage outgoing webhooks in the browser.

Same services and selectors as the REST API; agents get the readable 403 page.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.views import team_manager_required
from inbox import webhook_selectors
from inbox.models import WebhookSubscription
from inbox.services import webhooks

RECENT_ATTEMPTS = 50


class WebhookCreateForm(forms.Form):
    url = forms.URLField(
        label=_("Endpoint URL"),
        max_length=2000,
        assume_scheme="https",
        help_text=_("Must be reachable from the internet (https:// recommended)."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=WebhookSubscription.Event.choices,
        widget=forms.CheckboxSelectMultiple,
    )


def _form_errors_add(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _list_page(
    request: HttpRequest, form: WebhookCreateForm, *, created: WebhookSubscription | None = None, status: int = 200
) -> HttpResponse:
    company = webhook_selectors.company_current()
    context: dict[str, Any] = {
        "subscriptions": webhook_selectors.webhook_subscription_list(),
        "form": form,
        "created": created,
        "webhooks_allowed": webhook_selectors.company_webhooks_allowed(company),
        "section": "webhooks",
    }
    return render(request, "inbox/settings_webhooks.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@team_manager_required
def settings_webhooks(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _list_page(request, WebhookCreateForm())
    form = WebhookCreateForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    try:
        subscription = webhooks.webhook_subscription_create(
            url=form.cleaned_data["url"], events=form.cleaned_data["events"]
        )
    except webhooks.WebhooksNotInPlanError as exc:
        form.add_error(None, exc.message)
        return _list_page(request, form, status=402)
    except ValidationError as exc:
        _form_errors_add(form, exc)
        return _list_page(request, form, status=400)
    # The secret is on this response only; a reload shows the list without it.
    return _list_page(request, WebhookCreateForm(), created=subscription)


def _detail_page(request: HttpRequest, subscription: WebhookSubscription, *, new_secret: bool = False) -> HttpResponse:
    deliveries = webhook_selectors.webhook_delivery_list(subscription=subscription)[:RECENT_ATTEMPTS]
    context = {
        "subscription": subscription,
        "deliveries": deliveries,
        "new_secret": new_secret,
        "recent_attempts": RECENT_ATTEMPTS,
        "section": "webhooks",
    }
    return render(request, "inbox/settings_webhook_detail.html", context)


@never_cache
@require_GET
@team_manager_required
def settings_webhook_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    subscription = webhook_selectors.webhook_subscription_get(public_id=public_id)
    return _detail_page(request, subscription)


@require_POST
@team_manager_required
def settings_webhook_toggle(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    subscription = webhook_selectors.webhook_subscription_get(public_id=public_id)
    subscription = webhooks.webhook_subscription_update(subscription=subscription, is_active=not subscription.is_active)
    if subscription.is_active:
        messages.success(request, _("The webhook to %(url)s is enabled.") % {"url": subscription.url})
    else:
        text = _("The webhook to %(url)s is disabled: nothing is sent to it until enabled again.")
        messages.success(request, text % {"url": subscription.url})
    return redirect("settings_webhooks")


@never_cache
@require_POST
@team_manager_required
def settings_webhook_rotate(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    subscription = webhook_selectors.webhook_subscription_get(public_id=public_id)
    subscription = webhooks.webhook_subscription_rotate_secret(subscription=subscription)
    return _detail_page(request, subscription, new_secret=True)


@require_POST
@team_manager_required
def settings_webhook_delete(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    subscription = webhook_selectors.webhook_subscription_get(public_id=public_id)
    webhooks.webhook_subscription_delete(subscription=subscription)
    messages.success(request, _("The webhook to %(url)s was deleted.") % {"url": subscription.url})
    return redirect("settings_webhooks")


@require_POST
@team_manager_required
def settings_webhook_replay(request: HttpRequest, public_id: uuid.UUID, delivery_id: uuid.UUID) -> HttpResponse:
    subscription = webhook_selectors.webhook_subscription_get(public_id=public_id)
    delivery = webhook_selectors.webhook_delivery_get(subscription=subscription, public_id=delivery_id)
    replay = webhooks.webhook_delivery_replay(delivery=delivery)
    messages.success(
        request,
        _("Event %(event)s is being sent again (attempt %(attempt)d). Reload to see it.")
        % {"event": delivery.event.event_type, "attempt": replay.attempt},
    )
    return redirect("settings_webhook_detail", public_id=subscription.public_id)
