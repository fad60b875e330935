"""The provider's error codes, what they mean to an agent, and whether a send is retried.

Branch on `error.code`, never on the HTTP status or the title (whatsapp-platform.md §2.5).
Retried: the number's or the pair's rate limits, maintenance and server trouble, and any
HTTP 429/5xx answer (the provider contract) unless its code is permanent for this message
or its recipient (PERMANENT_CODES). Everything else fails the message with the code and the
explanation below, shown to the agent.
"""

from __future__ import annotations

from dataclasses import dataclass

# Transient: the same request can succeed later.
RETRYABLE_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057})
# Permanent for this message or its recipient (whatsapp-platform.md §2.5: per recipient, rule
# violation, bad request, template state): the same request fails again, whatever the HTTP
# status. 131049 must not be retried for 24 hours (retries extend the block). Account and
# configuration codes (0, 190, 3, 10, 131005, 368, 131031, 131042, 131045, …) are not here: an
# HTTP 429/5xx carrying one is retried like any other, and fails once the retries run out.
PERMANENT_CODES = frozenset(
    {
        # per recipient
        130403, 130472, 131026, 131047, 131049, 131050,
        # bad request
        100, 131008, 131009, 131021, 131051, 131052, 131053,
        # template
        132000, 132001, 132005, 132007, 132012, 132015, 132016,
    }
)  # fmt: skip
# The recipient switched marketing off in WhatsApp: record it as a marketing opt-out.
MARKETING_OPT_OUT_CODE = 131050
# The per-user marketing limit: not to be retried for 24 hours.
MARKETING_LIMIT_CODE = 131049
# Our own window check answers with the provider's code for the same rule.
WINDOW_CLOSED_CODE = 131047

ERROR_EXPLANATIONS: dict[int, tuple[str, str]] = {
    # code: (title, explanation for the agent)
    0: ("Authentication failed", "The number's access token was refused. An operator must reconnect the number."),
    1: ("Provider error", "The provider had a temporary problem."),
    2: ("Provider unavailable", "The provider was temporarily unavailable."),
    3: ("Permission missing", "The app lacks a permission for this number. An operator must fix the connection."),
    4: ("Too many API calls", "The app made too many calls to the provider."),
    10: ("Permission denied", "The app is not allowed to use this number. An operator must fix the connection."),
    100: ("Invalid parameter", "The provider refused a parameter of this message."),
    190: ("Access token expired", "The number's access token expired. An operator must reconnect the number."),
    368: ("Blocked for policy reasons", "The account is temporarily blocked for a policy violation."),
    80007: ("Too many API calls", "The business account made too many calls to the provider."),
    130403: ("Recipient blocked", "This customer is blocked by the business."),
    130429: ("Throughput limit", "The number sends too many messages per second."),
    130472: ("Marketing experiment", "The customer is part of a marketing experiment; the message was not sent."),
    130497: ("Country restricted", "The business may not message customers in this country."),
    131000: ("Provider error", "Something went wrong at the provider."),
    131005: ("Access denied", "The number's permissions were withdrawn. An operator must fix the connection."),
    131008: ("Parameter missing", "A required parameter of this message is missing."),
    131009: ("Parameter invalid", "A parameter of this message has an invalid value."),
    131016: ("Service unavailable", "The provider's service is temporarily unavailable."),
    131021: ("Same number", "A message cannot be sent to the business's own number."),
    131026: (
        "Message undeliverable",
        "The customer cannot receive it: not a WhatsApp user, an old app, or terms not accepted.",
    ),
    131031: ("Account locked", "The business account is locked. Contact support."),
    131042: ("Payment problem", "The business account has a payment problem."),
    131045: ("Number not registered", "The business number is not registered with the provider."),
    131047: (
        "Re-engagement message",
        "More than 24 hours have passed since the customer last wrote. Send an approved template instead.",
    ),
    131048: ("Spam rate limit", "Too many customers blocked or reported this number; sending is restricted."),
    131049: (
        "Marketing limit for this customer",
        "The customer received enough marketing messages; do not retry for 24 hours.",
    ),
    131050: ("Marketing stopped", "The customer switched off marketing messages from this business."),
    131051: ("Unsupported message type", "This kind of message is not supported."),
    131052: ("Media download failed", "The customer's file could not be downloaded."),
    131053: ("Media upload failed", "The file could not be uploaded; check its type and size."),
    131056: ("Too many messages to this customer", "Too many messages to the same customer in a short time."),
    131057: ("Number in maintenance", "The business number is briefly in maintenance."),
    131063: ("Marketing disabled", "Marketing templates are disabled for this business account."),
    131064: ("Template misclassified", "A limit was reached because of template misclassification."),
    132000: ("Template parameters", "The number of template parameters does not match the template."),
    132001: ("Template not found", "The template does not exist in this language or is not approved."),
    132005: ("Template text too long", "The template's text is too long once the parameters are filled in."),
    132007: ("Template policy violation", "The template's content violates the provider's policy."),
    132012: ("Template parameter format", "A template parameter has the wrong format."),
    132015: ("Template paused", "The template is paused because of low quality."),
    132016: ("Template disabled", "The template is permanently disabled because of low quality."),
}


@dataclass(frozen=True)
class ErrorInfo:
    code: int | None
    title: str
    detail: str


def error_explain(code: int | None, *, title: str = "", detail: str = "") -> ErrorInfo:
    """Code, title and a human explanation (the provider's own words are kept after ours)."""
    known = ERROR_EXPLANATIONS.get(code) if code is not None else None
    if known is None:
        return ErrorInfo(code=code, title=title or "Provider error", detail=detail or "The provider refused it.")
    known_title, explanation = known
    text = explanation if not detail or detail == explanation else f"{explanation} ({detail})"
    return ErrorInfo(code=code, title=known_title, detail=text)


def error_is_retryable(*, code: int | None, http_status: int | None) -> bool:
    """Rate limits, maintenance and server errors are retried; a permanent code never is.

    HTTP 429/5xx is retried whatever its code, unless the code is in PERMANENT_CODES. Below
    that (4xx), only RETRYABLE_CODES are retried.
    """
    if code is not None and code in RETRYABLE_CODES:
        return True
    if code is not None and code in PERMANENT_CODES:
        return False
    return http_status is not None and (http_status == 429 or http_status >= 500)


class ProviderError(Exception):
    """The provider refused the request (or could not be reached before anything was sent)."""

    def __init__(self, *, code: int | None, title: str = "", detail: str = "", http_status: int | None = None) -> None:
        self.code = code
        self.http_status = http_status
        self.info = error_explain(code, title=title, detail=detail)
        self.retryable = error_is_retryable(code=code, http_status=http_status)
        super().__init__(f"({code}) {self.info.title}: {self.info.detail}")


class ProviderOutcomeUnknownError(Exception):
    """The request may have reached the provider (timeout or drop after sending): never resend blindly."""
