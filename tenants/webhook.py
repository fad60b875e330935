"""`/webhooks/whatsapp/` on the public host: the provider's handshake and event POSTs.

POST does the least that is safe before answering 200: verify the HMAC over the raw bytes,
store them (one INSERT), enqueue processing. An authentic body is never refused (even if
it is not JSON: it is stored, and the processor marks it failed), so a poison payload is
not redelivered for a week (whatsapp-platform.md §1.6-1.7).
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt
from kombu.exceptions import OperationalError as BrokerError

from tenants import inbound

logger = logging.getLogger(__name__)

# The platform's documented maximum payload (whatsapp-platform.md §0).
MAX_BODY_BYTES = 3 * 1024 * 1024
SIGNATURE_PREFIX = "sha256="


def signature_valid(body: bytes, header: str) -> bool:
    """True when `header` is `sha256=<hex HMAC-SHA256 of body with the app secret>` (constant time)."""
    if not header.startswith(SIGNATURE_PREFIX):
        return False
    received = header[len(SIGNATURE_PREFIX) :].lower().encode("utf-8", "replace")
    expected = hmac.new(settings.WHATSAPP_APP_SECRET.encode(), body, hashlib.sha256).hexdigest().encode()
    # Bytes, not str: compare_digest refuses a str with non-ASCII characters (TypeError → 500),
    # and any header, however odd, must be a plain 401.
    return hmac.compare_digest(expected, received)


def _handshake(request: HttpRequest) -> HttpResponse:
    token = request.GET.get("hub.verify_token", "")
    if request.GET.get("hub.mode") == "subscribe" and hmac.compare_digest(
        token.encode(), settings.WHATSAPP_VERIFY_TOKEN.encode()
    ):
        return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
    return HttpResponse("Verification failed.", status=403, content_type="text/plain")


@csrf_exempt
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _handshake(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return HttpResponse("Payload too large.", status=413, content_type="text/plain")
    # Read the stream directly: `request.body` would apply DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return HttpResponse("Payload too large.", status=413, content_type="text/plain")
    header = request.headers.get("X-Hub-Signature-256", "")
    if not signature_valid(body, header):
        logger.warning("webhook POST with a missing or wrong signature refused")
        return HttpResponse("Invalid signature.", status=401, content_type="text/plain")
    try:
        inbound.provider_event_receive(body=body, signature=header)
    except (BrokerError, ConnectionError, OSError) as exc:
        # Stored already (autocommit); the requeue task picks it up once the broker is back.
        logger.error("webhook stored but not enqueued: %s", exc)
    return HttpResponse("OK", content_type="text/plain")
