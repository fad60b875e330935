"""The inbox's data: contacts and their consent, threads and messages, the channel's
numbers and templates, agents' notes/labels/canned replies, outgoing webhooks.

All of it lives in the company's schema. Every object has an integer pk for joins and a
UUID `public_id` for URLs and the API.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _public_id() -> models.UUIDField:
    return models.UUIDField(default=uuid.uuid4, unique=True, editable=False)


class PhoneNumber(models.Model):
    """A business number connected through the provider (routes from tenants.PhoneNumberRoute)."""

    public_id = _public_id()
    phone_number_id = models.CharField(max_length=64, unique=True)
    display_number = models.CharField(max_length=32)
    # The provider's access token. Kept out of every API output and page.
    access_token = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.display_number


class Label(models.Model):
    public_id = _public_id()
    name = models.CharField(max_length=50, unique=True)
    color = models.CharField(max_length=7, default="#64748b")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A customer, keyed internally (not by phone: WhatsApp ids and numbers can change).

    The three consent flags are a cache of the ledger (`ConsentEvent`), rewritten by the
    service that appends to it, so audiences can be filtered by index.
    """

    public_id = _public_id()
    phone = models.CharField(max_length=20, unique=True, help_text="E.164, e.g. +4915112345678")
    wa_id = models.CharField(max_length=32, blank=True, db_index=True)
    name = models.CharField(max_length=200, blank=True)
    profile_name = models.CharField(max_length=200, blank=True, help_text="As the customer set it in WhatsApp")
    attributes = models.JSONField(default=dict, blank=True)
    labels = models.ManyToManyField(Label, blank=True, related_name="contacts")
    opted_in = models.BooleanField(default=False)
    opted_out = models.BooleanField(default=False)
    marketing_opted_out = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set once by the GDPR erasure (inbox/services/privacy.py): the row stays as an anonymous
    # shell (phone `erased:<uuid>`) so the threads keep their shape; nothing brings it back.
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Search uses a trigram index on UPPER(name || ' ' || profile_name || ' ' || phone),
        # made in raw SQL by migration 0003 to match inbox.selectors' query exactly.

    def __str__(self) -> str:
        return self.name or self.profile_name or self.phone

    @property
    def display_name(self) -> str:
        return self.name or self.profile_name or self.phone


class ConsentEvent(models.Model):
    """Append-only ledger of opt-ins and opt-outs: the record a regulator or customer can audit."""

    class Action(models.TextChoices):
        OPT_IN = "opt_in", _("Opt-in")
        OPT_OUT = "opt_out", _("Opt-out")

    class Purpose(models.TextChoices):
        ALL = "all", _("All business-initiated messages")
        MARKETING = "marketing", _("Marketing only")

    public_id = _public_id()
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_events")
    action = models.CharField(max_length=16, choices=Action.choices)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.ALL)
    source = models.CharField(max_length=100, help_text="api, keyword, agent, csv, user_preferences, provider_error …")
    detail = models.TextField(blank=True, help_text="What was shown or said, e.g. the keyword received")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["contact", "purpose", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.action}/{self.purpose} ({self.source})"


class Thread(models.Model):
    """The conversation with one contact over one of our numbers.

    One per (contact, number): a new inbound message reopens it rather than starting a
    second one, so the whole history stays in one place.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        SNOOZED = "snoozed", _("Snoozed")
        RESOLVED = "resolved", _("Resolved")

    public_id = _public_id()
    # No index of its own: the unique (contact, phone_number) index serves lookups by contact.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="threads", db_index=False)
    phone_number = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="threads")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # No index of its own: thread_assignee_recent (assignee, status, …) serves lookups by agent.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_threads",
        db_index=False,
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="threads")
    snoozed_until = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True, help_text="Opens the 24-hour window")
    last_message_preview = models.CharField(max_length=200, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The latest satisfaction rating (1-5) and when it came (inbox/services/csat.py).
    csat_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    csat_rated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "phone_number"], name="thread_one_per_contact_number")
        ]
        indexes = [
            models.Index(fields=["status", "-last_message_at", "-id"], name="thread_status_recent"),
            models.Index(fields=["assignee", "status", "-last_message_at", "-id"], name="thread_assignee_recent"),
            models.Index(fields=["-last_message_at", "-id"], name="thread_recent"),
            # The inbox's live poll asks "what changed since t?" every 1.5 s per open list.
            models.Index(fields=["updated_at"], name="thread_updated"),
        ]

    def __str__(self) -> str:
        return f"Thread {self.public_id}"


class Message(models.Model):
    """One message in a thread, either way.

    Status only moves forward (received | queued → sent → delivered → read; failed is
    final unless delivered/read was already seen); `status_rank` makes that a single
    conditional UPDATE. `unknown` is a send whose outcome we could not learn (a timeout):
    it is reconciled from status webhooks, never resent blindly.
    """

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")
        DOCUMENT = "document", _("Document")
        AUDIO = "audio", _("Audio")
        VIDEO = "video", _("Video")
        STICKER = "sticker", _("Sticker")
        LOCATION = "location", _("Location")
        CONTACTS = "contacts", _("Contacts")
        INTERACTIVE = "interactive", _("Interactive reply")
        BUTTON = "button", _("Button reply")
        REACTION = "reaction", _("Reaction")
        TEMPLATE = "template", _("Template")
        UNSUPPORTED = "unsupported", _("Unsupported")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        QUEUED = "queued", _("Queued")
        UNKNOWN = "unknown", _("Outcome unknown")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")
        # Send later (inbox/services/scheduled.py): waits for `send_at`; cancelled is final.
        SCHEDULED = "scheduled", _("Scheduled")
        CANCELLED = "cancelled", _("Cancelled")

    STATUS_RANK = {
        Status.SCHEDULED: 0,
        Status.CANCELLED: 5,
        Status.RECEIVED: 0,
        Status.QUEUED: 0,
        Status.UNKNOWN: 1,
        Status.SENT: 2,
        Status.DELIVERED: 3,
        Status.READ: 4,
        Status.FAILED: 5,
    }

    class MediaStatus(models.TextChoices):
        NONE = "", _("No media")
        PENDING = "pending", _("Downloading")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    public_id = _public_id()
    # No index of its own: message_thread_recent (thread, created_at, id) serves lookups by thread.
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages", db_index=False)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.TEXT)
    text = models.TextField(blank=True, help_text="Body, caption, or a readable summary of the payload")
    payload = models.JSONField(default=dict, blank=True, help_text="The type's object as the provider sent it")
    wamid = models.CharField(max_length=255, unique=True, null=True, blank=True)
    context_wamid = models.CharField(max_length=255, blank=True, help_text="The message this one replies to")
    status = models.CharField(max_length=16, choices=Status.choices)
    status_rank = models.PositiveSmallIntegerField(default=0)
    status_at = models.DateTimeField(null=True, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error_title = models.CharField(max_length=255, blank=True)
    error_detail = models.TextField(blank=True)
    # media
    media_id = models.CharField(max_length=128, blank=True)
    media_mime_type = models.CharField(max_length=128, blank=True)
    media_filename = models.CharField(max_length=255, blank=True)
    media_file = models.FileField(upload_to="media/%Y/%m/", blank=True)
    media_status = models.CharField(max_length=8, choices=MediaStatus.choices, default=MediaStatus.NONE, blank=True)
    # template sends
    template_name = models.CharField(max_length=512, blank=True)
    template_language = models.CharField(max_length=16, blank=True)
    template_parameters = models.JSONField(default=list, blank=True)
    template_category = models.CharField(max_length=16, blank=True)
    # who and as whom
    # Indexed only where set (Meta): inbound, broadcast and automated messages have no
    # sender, and each would otherwise add an entry to an index no query asks for NULL.
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    sender_identity = models.JSONField(
        default=dict, blank=True, help_text="The company's verified name and badge as they were when sent"
    )
    provider_timestamp = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Send later: when a `scheduled` message is due (kept after it was sent, as history).
    send_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["thread", "-created_at", "-id"], name="message_thread_recent"),
            # The due scan's question: which scheduled messages are due?
            models.Index(fields=["send_at"], name="message_scheduled_due", condition=Q(status="scheduled")),
            # Who sent what (reports, a user's deletion setting it NULL): agents' messages only.
            models.Index(fields=["sent_by"], name="message_sent_by", condition=Q(sent_by__isnull=False)),
            # Search: a trigram index on UPPER(text), migration 0003 (see inbox.selectors).
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.type} {self.wamid or self.public_id}"


class Note(models.Model):
    """An internal note in a thread: agents see it, the customer never does."""

    public_id = _public_id()
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in_notes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["thread", "-created_at"], name="note_thread_recent")]

    def __str__(self) -> str:
        return f"Note {self.public_id}"


class CannedReply(models.Model):
    public_id = _public_id()
    shortcut = models.SlugField(max_length=50, unique=True, help_text="Typed as /shortcut in the reply box")
    title = models.CharField(max_length=100)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut"]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class Template(models.Model):
    """A message template (business-initiated messages need an approved one)."""

    class Category(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        UTILITY = "utility", _("Utility")
        AUTHENTICATION = "authentication", _("Authentication")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING = "pending", _("Pending review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        PAUSED = "paused", _("Paused")

    public_id = _public_id()
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=16)
    category = models.CharField(max_length=16, choices=Category.choices)
    header = models.CharField(max_length=60, blank=True)
    body = models.TextField()
    footer = models.CharField(max_length=60, blank=True)
    buttons = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    rejection_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [models.UniqueConstraint(fields=["name", "language"], name="template_name_language_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class IdempotencyRecord(models.Model):
    """The first answer to a POST with an `Idempotency-Key`, replayed for 24 h (API.md)."""

    key = models.CharField(max_length=255)
    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return self.key


class WebhookSubscription(models.Model):
    """An integrator's endpoint for outgoing events, signed with its secret.

    The secret is kept in clear: it is the HMAC key, and the receiver holds the same one.
    """

    class Event(models.TextChoices):
        MESSAGE_RECEIVED = "message.received", "message.received"
        MESSAGE_STATUS = "message.status", "message.status"
        THREAD_UPDATED = "thread.updated", "thread.updated"
        BROADCAST_COMPLETED = "broadcast.completed", "broadcast.completed"

    public_id = _public_id()
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=128)
    # During a rotation the old secret also signs until this time.
    previous_secret = models.CharField(max_length=128, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url

    def signing_secrets(self, *, now: datetime) -> list[str]:
        """The secrets that sign a delivery sent at `now`: the current one, then the previous
        one while the rotation's overlap lasts."""
        valid = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            valid.append(self.previous_secret)
        return valid


class WebhookEvent(models.Model):
    """One event to deliver to one subscription; its attempts are WebhookDelivery rows.

    `payload` is the whole body sent (`{"id", "type", "created_at", "company", "data"}`),
    fixed when the event happened so every attempt carries the same content. An event is
    due while `delivered_at` and `gave_up_at` are empty and `next_retry_at` has passed;
    whoever starts an attempt pushes `next_retry_at` a lease ahead and bumps `attempts`
    in one conditional UPDATE, so no attempt is started twice.
    """

    public_id = _public_id()
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="events_sent")
    event_type = models.CharField(max_length=32, choices=WebhookSubscription.Event.choices)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    delivered_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    gave_up_at = models.DateTimeField(null=True, blank=True)
    # Not auto_now_add: the body's `created_at` is this very value.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_retry_at"],
                name="webhook_event_due",
                condition=Q(delivered_at__isnull=True, gave_up_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.public_id}"


class WebhookDelivery(models.Model):
    """One HTTP attempt of an event: what the receiver answered and how long it took.

    The row is written when the attempt is scheduled (`started_at` empty), marked started
    by the worker that sends it, and completed with the answer (`duration_ms` set).
    """

    public_id = _public_id()
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["event", "attempt"], name="webhook_delivery_one_per_attempt")]

    def __str__(self) -> str:
        return f"attempt {self.attempt} of {self.event_id}"

    @property
    def is_finished(self) -> bool:
        return self.duration_ms is not None or bool(self.error)

    @property
    def is_success(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# --- broadcasts ------------------------------------------------------------------------------


class Broadcast(models.Model):
    """One template sent to an audience, snapshotted into `Delivery` rows when it starts.

    The Delivery rows are the ledger: progress, completion and crash recovery are read from
    them, never from the broker. `remaining` counts recipients still queued or sending; it
    moves in the same transaction as the rows it counts, so it reaching 0 is the one
    moment the broadcast completes. Dispatch walks the delivery ids in chunks:
    `first_delivery_id`/`last_delivery_id` bound the snapshot and `dispatch_cursor` is the
    first id not handed to a chunk task yet (docs/broadcasts.md).
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    class AudienceType(models.TextChoices):
        ALL = "all", _("All opted-in contacts")
        LABELS = "labels", _("Contacts with any of these labels")
        FILTER = "filter", _("Contacts whose attributes match")
        BROADCAST = "broadcast", _("Recipients of another broadcast")
        CSV = "csv", _("Recipients of an uploaded CSV file")

    class PausedCode(models.TextChoices):
        MANUAL = "manual", _("Paused by a person")
        FAILURE_RATE = "failure_rate", _("Failure rate above the threshold")
        ERROR_BURST = "error_burst", _("A burst of one error code")
        THROTTLED = "throttled", _("The provider kept refusing for rate limits")
        PROVIDER_STOP = "provider_stop", _("An account or template error from the provider")
        TEMPLATE = "template_paused", _("The template was paused or disabled")
        CANARY = "canary_failed", _("The canary failed")

    class Phase(models.TextChoices):
        NONE = "", _("Sending")
        CANARY = "canary", _("Sending the canary")
        CANARY_HOLD = "canary_hold", _("Waiting for the canary's statuses")

    public_id = _public_id()
    name = models.CharField(max_length=200)
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="broadcasts")
    template_parameters = models.JSONField(default=list, blank=True)
    phone_number = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="broadcasts")
    audience = models.JSONField(default=dict, help_text='{"type": "all"|"labels"|"filter"|"broadcast"|"csv", ...}')
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    paused_reason = models.CharField(max_length=255, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    remaining = models.PositiveIntegerField(default=0)
    first_delivery_id = models.BigIntegerField(null=True, blank=True)
    last_delivery_id = models.BigIntegerField(null=True, blank=True)
    dispatch_cursor = models.BigIntegerField(null=True, blank=True)
    # Last time a chunk recorded progress: the sweeper tops up a broadcast that went quiet.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # --- canary and circuit breaker (docs/broadcasts.md, "Canary and circuit breaker") ---
    # Why the broadcast paused itself, for machines (`paused_reason` is for people).
    paused_code = models.CharField(max_length=32, choices=PausedCode.choices, blank=True, default="")
    # Optional canary: the first `canary_count` recipients (or `canary_percent` %, at least
    # one) are sent, then the broadcast holds `canary_hold_seconds` for statuses and the
    # breaker judges them before the rest goes out. `canary_end_id` is the first delivery
    # id after the canary (ids are dense per snapshot), fixed when the broadcast starts.
    canary_count = models.PositiveIntegerField(null=True, blank=True)
    canary_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    canary_hold_seconds = models.PositiveIntegerField(default=0)
    canary_end_id = models.BigIntegerField(null=True, blank=True)
    phase = models.CharField(max_length=16, choices=Phase.choices, blank=True, default="")
    phase_until = models.DateTimeField(null=True, blank=True)
    # Failure rate (0-1] over the breaker's sample that pauses the broadcast; NULL: the
    # BROADCAST_FAILURE_THRESHOLD setting. The sample counts deliveries from
    # `breaker_from_id` on (moved to the dispatch cursor by a resume, so it starts afresh).
    failure_threshold = models.FloatField(null=True, blank=True)
    breaker_from_id = models.BigIntegerField(null=True, blank=True)
    # Since when every answer has been a throughput/pair-limit refusal (cleared by a success).
    throttled_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["status"],
                name="broadcast_active",
                condition=Q(status__in=["scheduled", "running", "paused"]),
            )
        ]

    def __str__(self) -> str:
        return self.name


class Delivery(models.Model):
    """One recipient of a broadcast: the outbox row that is claimed, sent and recorded.

    `status` is the send's lifecycle (queued → sending → sent | failed | skipped); what
    happens after `sent` (delivered, read, a late failure) is the linked Message's status,
    which the status webhooks already move, so the two never disagree. `claim_token` and
    `lease_until` belong to the chunk run that holds a `sending` row: results are written
    only under the same token, and the sweeper puts rows back after the lease expires.
    """

    class Status(models.IntegerChoices):
        QUEUED = 0, _("Queued")
        SENDING = 1, _("Sending")
        SENT = 2, _("Sent")
        FAILED = 5, _("Failed")
        SKIPPED = 6, _("Skipped")

    # bigint ids without database FK triggers: the snapshot inserts a million rows in one
    # statement, and a per-row RI check would double its cost. Deleting a broadcast
    # through Django still cascades (Django's collector does it). The broadcast's own index
    # is the unique (broadcast, contact) one.
    broadcast = models.ForeignKey(
        Broadcast, on_delete=models.CASCADE, related_name="deliveries", db_constraint=False, db_index=False
    )
    # DO_NOTHING: the ledger outlives a deleted contact (the row holds no personal data); a
    # chunk skips a row whose contact is gone.
    contact = models.ForeignKey(
        Contact, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False, db_index=False
    )
    status = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.QUEUED, db_default=0)
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    claim_token = models.BigIntegerField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=32, blank=True, default="", db_default="")
    error_code = models.IntegerField(null=True, blank=True)
    error_title = models.CharField(max_length=255, blank=True, default="", db_default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    # This recipient's own template parameters, resolved by the snapshot from contact
    # fields and CSV columns; NULL when the broadcast's parameters name none (the chunk
    # then sends `Broadcast.template_parameters` as they are).
    parameters = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["broadcast", "contact"], name="delivery_one_per_contact")]
        indexes = [
            # The sweeper's question: which leases have expired?
            models.Index(fields=["lease_until"], name="delivery_lease", condition=Q(status=1)),
            models.Index(fields=["message"], name="delivery_message", condition=Q(message__isnull=False)),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"delivery {self.pk} of broadcast {self.broadcast_id}"


class AudienceUpload(models.Model):
    """A CSV file of recipients (phone + per-recipient variables), imported as a whole.

    The file itself is not kept: its accepted rows are `AudienceUploadRow`s, written with
    this row in one transaction, so an upload is either complete or absent. `columns` are
    the file's variable columns (every header but `phone`/`opt_in`), in file order;
    `errors` keeps the first rejected lines (`{"line", "message"}`) for the UI, while
    `error_count` counts them all. Uploading a CSV is not consent (docs/broadcasts.md).
    """

    public_id = _public_id()
    original_name = models.CharField(max_length=255, blank=True)
    columns = models.JSONField(default=list, blank=True)
    rows_accepted = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # Of the rejected lines, those with an unusable phone and those repeating an earlier
    # line's phone: the dry run's `invalid_phone` and `duplicate` exclusions.
    invalid_phone_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    opt_ins_recorded = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.original_name or f"upload {self.public_id}"


class AudienceUploadRow(models.Model):
    """One accepted line of an upload: the recipient and the values of its variable columns.

    Like `Delivery`, the foreign keys carry no database constraint: a million rows are
    inserted in batches inside one transaction, and per-row RI triggers would double the
    cost. The unique (upload, phone) constraint is also the upload's index; `contact` is
    the contact matched or created by phone when the file was imported.
    """

    upload = models.ForeignKey(
        AudienceUpload, on_delete=models.CASCADE, related_name="rows", db_constraint=False, db_index=False
    )
    line = models.PositiveIntegerField()
    phone = models.CharField(max_length=20)
    contact = models.ForeignKey(
        Contact,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    variables = models.JSONField(default=dict, blank=True)
    opt_in = models.BooleanField(default=False)

    class Meta:
        ordering = ["upload", "line"]
        constraints = [models.UniqueConstraint(fields=["upload", "phone"], name="audience_upload_row_one_per_phone")]

    def __str__(self) -> str:
        return f"line {self.line} of upload {self.upload_id}"


class MediaUpload(models.Model):
    """A media file uploaded over the API (`POST /uploads/`), to be sent by `upload_id`.

    `mime_type` is what the content is (its first bytes), not what the client said, and
    `filename` carries that type's extension. Sending copies the file into the message
    (inbox.services.messages), so an upload is never needed after it was sent; uploads
    older than MEDIA_UPLOAD_RETENTION_HOURS are deleted with their files
    (`media_uploads_purge_task`).
    """

    public_id = _public_id()
    file = models.FileField(upload_to="media/%Y/%m/", max_length=255)
    filename = models.CharField(max_length=255)
    mime_type = models.CharField(max_length=127)
    size = models.PositiveBigIntegerField()
    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename or f"upload {self.public_id}"


# --- customer satisfaction (CSAT) --------------------------------------------------------------


class CsatSurvey(models.Model):
    """One rating request, sent when an agent resolved a thread (at most one per resolve).

    The interactive list's row ids name this survey, so an answer arriving after the thread
    was reopened (or resolved again) still counts for the resolution that asked for it.
    """

    public_id = _public_id()
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="csat_surveys")
    # Who resolved the thread (the agent the rating is about); NULL when no agent was known.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The thread's labels when it was resolved: what reports count the rating under.
    labels = models.ManyToManyField(Label, blank=True, related_name="+")
    resolved_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A resolve is one (thread, resolved_at): two requests for it cannot both be made.
            models.UniqueConstraint(fields=["thread", "resolved_at"], name="csat_survey_one_per_resolve")
        ]

    def __str__(self) -> str:
        return f"CSAT survey {self.public_id}"


class CsatResponse(models.Model):
    """A customer's 1-5 rating of one resolution: the row reports count.

    `agent` is who resolved the thread; `labels` are the thread's labels when it was
    resolved (a later relabelling does not move old ratings between labels).
    """

    public_id = _public_id()
    survey = models.OneToOneField(CsatSurvey, on_delete=models.CASCADE, related_name="response")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="csat_responses")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="csat_responses")
    rating = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="csat_rating_1_to_5")]
        indexes = [models.Index(fields=["agent", "created_at"], name="csat_response_agent")]

    def __str__(self) -> str:
        return f"rating {self.rating} of {self.thread_id}"


# --- privacy: erasures, merges and retention purges (inbox/services/privacy.py, merge.py) -------


class PrivacyLog(models.Model):
    """The company's own audit of erasures, merges, deletions and retention purges.

    Operators have their own log (tenants.OperatorAction); this one is the company's, shown
    to its owners. An erasure row names the contact only by its public id and keeps counts,
    never the erased content. A merge row names the surviving contact/thread and the merged
    one; `from_label` (the merged-from side as agents knew it) is what the thread's timeline
    shows, and is blanked when the surviving contact is erased. A contact deletion writes a
    summary row and one row per deleted thread (`from_public_id`, no `thread`): the thread
    list's live update takes those rows out (inbox/services/merge.py thread_ids_gone).
    """

    class Action(models.TextChoices):
        ERASE_CONTACT = "erase_contact", _("Contact erased")
        MERGE_CONTACTS = "merge_contacts", _("Contacts merged")
        MERGE_THREADS = "merge_threads", _("Threads merged")
        DELETE_CONTACT = "delete_contact", _("Contact deleted")
        RETENTION_PURGE = "retention_purge", _("Retention purge")

    public_id = _public_id()
    action = models.CharField(max_length=32, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who, readable after the user is gone: an e-mail, "API key <prefix>" or "system".
    actor_label = models.CharField(max_length=254, blank=True)
    contact_public_id = models.UUIDField(null=True, blank=True, db_index=True)
    from_public_id = models.UUIDField(null=True, blank=True)
    # The surviving thread a merge event is shown in (NULL for erasures, deletions and purges).
    thread = models.ForeignKey(Thread, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    from_label = models.CharField(max_length=200, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["thread", "created_at"], name="privacylog_thread"),
            # Where a merged-away thread went (inbox/services/merge.py thread_merged_into).
            models.Index(fields=["from_public_id"], name="privacylog_from"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.contact_public_id or ''}"
