"""The WhatsApp Cloud API over HTTP (httpx), at WHATSAPP_API_BASE / WHATSAPP_API_VERSION.

Failure classes matter more than anything else here:
- nothing left our side (connect error or timeout, pool timeout, a request our own HTTP
  stack refused to write, such as an invalid header value): safe to retry;
- the provider answered with an error: its code decides (inbox.providers.errors);
- the request went out and no answer came (read timeout, dropped connection, a write
  cut short): the message may exist at the provider, so the outcome is `unknown` and the
  send is never repeated blindly.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
from typing import Any

import httpx
from django.conf import settings

from inbox.models import Message, PhoneNumber
from inbox.providers.base import Accepted, MediaInfo, MediaTooLargeError, Provider, message_body
from inbox.providers.errors import ProviderError, ProviderOutcomeUnknownError

logger = logging.getLogger(__name__)

_client_lock = threading.Lock()
_client: httpx.Client | None = None

# Raised before the provider could have read a whole request, so nothing was sent. h11's
# LocalProtocolError refuses to write an invalid request (a bad header value is caught before
# any byte goes out; a body cut short is never a complete request the provider could act on).
NOT_SENT_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)
# Building the request (URL, header encoding, body) failed: it never left the process.
BUILD_ERRORS = (httpx.InvalidURL, ValueError, TypeError)


def _http() -> httpx.Client:
    # One keep-alive client per process (a new TLS connection per send costs more than the send).
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(limits=httpx.Limits(max_keepalive_connections=20), follow_redirects=False)
        return _client


def _timeout() -> httpx.Timeout:
    seconds = float(getattr(settings, "WHATSAPP_HTTP_TIMEOUT", 15.0))
    return httpx.Timeout(seconds, connect=min(5.0, seconds))


def _url(*parts: str) -> str:
    return "/".join([settings.WHATSAPP_API_BASE.rstrip("/"), settings.WHATSAPP_API_VERSION, *parts])


def _headers(phone_number: PhoneNumber) -> dict[str, str]:
    # No token, no header: `Bearer ` with nothing after it is not even a valid header value.
    # The provider then refuses the request with its own error, which is recorded as usual.
    token = phone_number.access_token.strip()
    return {"Authorization": f"Bearer {token}"} if token else {}


def _not_sent(exc: Exception, title: str = "Provider unreachable") -> ProviderError:
    """Nothing reached the provider: a retryable error (like an unreachable provider)."""
    if isinstance(exc, httpx.LocalProtocolError):
        # h11 quotes the offending header, which may be the access token: never show it.
        detail = "The HTTP client refused to send an invalid request (LocalProtocolError)."
    else:
        detail = str(exc) or type(exc).__name__
    return ProviderError(code=None, title=title, detail=detail, http_status=503)


def _error_from(response: httpx.Response) -> ProviderError:
    try:
        data = response.json()
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):
        error = {"message": error}
    elif not isinstance(error, dict):
        error = {}
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details", "") if isinstance(error.get("error_data"), dict) else ""
    return ProviderError(
        code=code if isinstance(code, int) else None,
        title=str(error.get("message", ""))[:255],
        detail=str(details or error.get("message", "")),
        http_status=response.status_code,
    )


class WhatsAppCloudProvider(Provider):
    name = "whatsapp_cloud"

    def _request(
        self, method: str, url: str, *, phone_number: PhoneNumber, unknown_if_lost: bool, **kw: Any
    ) -> httpx.Response:
        client = _http()
        try:
            request = client.build_request(method, url, headers=_headers(phone_number), timeout=_timeout(), **kw)
        except BUILD_ERRORS as exc:
            raise _not_sent(exc, "Request not sent") from exc
        try:
            response = client.send(request)
        except httpx.LocalProtocolError as exc:
            raise _not_sent(exc, "Request not sent") from exc
        except NOT_SENT_ERRORS as exc:
            raise _not_sent(exc) from exc
        except httpx.TransportError as exc:
            if unknown_if_lost:
                raise ProviderOutcomeUnknownError(str(exc) or type(exc).__name__) from exc
            raise _not_sent(exc) from exc
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    def _upload(self, message: Message) -> str:
        """Uploads the message's stored file (Django storage) and returns the provider's media id."""
        phone_number = message.thread.phone_number
        mime = message.media_mime_type or mimetypes.guess_type(message.media_file.name)[0] or "application/octet-stream"
        with message.media_file.open("rb") as fh:
            content = fh.read()
        response = self._request(
            "POST",
            _url(phone_number.phone_number_id, "media"),
            phone_number=phone_number,
            unknown_if_lost=False,  # an orphan upload is harmless; the send is what must not repeat
            data={"messaging_product": "whatsapp", "type": mime},
            files={"file": (message.media_filename or message.media_file.name.rsplit("/", 1)[-1], content, mime)},
        )
        media_id = str(response.json().get("id", ""))
        if not media_id:
            raise ProviderError(code=131053, detail="The upload answer carried no media id.", http_status=200)
        return media_id

    def send(self, message: Message) -> Accepted:
        phone_number = message.thread.phone_number
        media_id = self._upload(message) if message.media_file else ""
        response = self._request(
            "POST",
            _url(phone_number.phone_number_id, "messages"),
            phone_number=phone_number,
            unknown_if_lost=True,
            json=message_body(message, media_id=media_id),
        )
        try:
            first = response.json()["messages"][0]
            return Accepted(wamid=str(first["id"]), message_status=str(first.get("message_status", "accepted")))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            # A 2xx without a wamid: the message probably exists, but we cannot tell which.
            raise ProviderOutcomeUnknownError(f"unexpected answer: {response.text[:200]}") from exc

    def media_info(self, *, phone_number: PhoneNumber, media_id: str) -> MediaInfo:
        response = self._request("GET", _url(media_id), phone_number=phone_number, unknown_if_lost=False)
        data = response.json()
        size = data.get("file_size")
        return MediaInfo(
            url=str(data.get("url", "")),
            mime_type=str(data.get("mime_type", "")),
            file_size=int(size) if size is not None else None,
        )

    def media_download(self, *, phone_number: PhoneNumber, info: MediaInfo, max_bytes: int) -> bytes:
        try:
            with _http().stream("GET", info.url, headers=_headers(phone_number), timeout=_timeout()) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_from(response)
                chunks: list[bytes] = []
                total = 0
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise MediaTooLargeError(f"more than {max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except (httpx.TransportError, httpx.InvalidURL, UnicodeEncodeError) as exc:
            raise _not_sent(exc, "Media download failed") from exc
