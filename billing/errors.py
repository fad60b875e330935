from __future__ import annotations

# Names of the limits, as they appear in the API (`details.limit`, `GET /usage` "limits").
LIMIT_AGENTS = "agents"
LIMIT_PHONE_NUMBERS = "phone_numbers"
LIMIT_BROADCAST_RECIPIENTS = "broadcast_recipients"
LIMIT_UNVERIFIED_BROADCAST = "unverified_broadcast_recipients"
LIMIT_DAILY_MESSAGES = "business_initiated_per_day"
LIMIT_WEBHOOKS = "outgoing_webhooks"

_WHAT = {
    LIMIT_AGENTS: "Your plan allows {allowed} agents (active agents and open invitations); {used} are in use.",
    LIMIT_PHONE_NUMBERS: "Your plan allows {allowed} connected number(s); {used} connected.",
    LIMIT_BROADCAST_RECIPIENTS: "This broadcast has {used} recipients; your plan allows {allowed} per broadcast.",
    LIMIT_UNVERIFIED_BROADCAST: (
        "This broadcast has {used} recipients; until your business is verified you can broadcast to at most "
        "{allowed}. Submit your business details for verification, or send to fewer recipients."
    ),
    LIMIT_DAILY_MESSAGES: (
        "Your plan allows {allowed} template messages per day (UTC); {used} are used today, so these {amount} "
        "would pass the limit."
    ),
    LIMIT_WEBHOOKS: "Outgoing webhooks are not part of your plan.",
}
# The billing page on the company host (billing/urls.py); a constant, so the message can be
# built anywhere (a worker, the public host's admin) without the tenant URLconf.
BILLING_PATH = "/settings/billing/"
UPGRADE_HINT = f"Owners can ask for an upgrade under Settings → Billing ({BILLING_PATH})."


class PlanNotFoundError(LookupError):
    pass


class PlanLimitExceeded(Exception):
    """A plan limit would be passed; nothing was reserved or sent.

    The API answers 402 `plan_limit_exceeded` with `details` {limit, used, allowed}; pages show
    `message`, which says what the limit is and how to upgrade.
    """

    def __init__(self, *, limit: str, used: int, allowed: int, amount: int = 1) -> None:
        self.limit = limit
        self.used = used
        self.allowed = allowed
        self.amount = amount
        what = _WHAT.get(limit, "A limit of your plan ({limit}) was reached: {used} of {allowed}.")
        self.message = what.format(limit=limit, used=used, allowed=allowed, amount=amount)
        if limit != LIMIT_UNVERIFIED_BROADCAST:
            self.message += " " + UPGRADE_HINT
        super().__init__(self.message)

    @property
    def details(self) -> dict[str, int | str]:
        return {"limit": self.limit, "used": self.used, "allowed": self.allowed}


class PlanChangeRefused(Exception):
    """A plan change that cannot be made (e.g. a downgrade below what the company uses)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvoiceImmutableError(Exception):
    """An issued invoice cannot change."""
