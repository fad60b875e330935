"""Connecting the company's provider numbers.

A number lives twice: the company's PhoneNumber (tenant schema: display number, token)
and the public PhoneNumberRoute that sends the provider's webhooks to that company. Both
are written in ONE transaction: the tenant schema's search_path also reaches the public
schema, so the connection is switched first and the transaction opened inside it.
A phone_number_id can be routed to one company only, anywhere.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import schema_context

from billing import services as billing
from inbox.models import PhoneNumber
from inbox.phones import phone_normalize
from tenants.models import Company, PhoneNumberRoute

# The provider's id of a number becomes a URL path segment (`…/{phone_number_id}/messages`)
# and a part of Redis keys: letters, digits, ".", "_" and "-", never only dots ("." and ".."
# would move the path up). Meta's ids are digits; other providers and test setups use names.
PHONE_NUMBER_ID_RE = re.compile(r"^(?!\.+$)[A-Za-z0-9._-]{1,64}$")
WABA_ID_RE = re.compile(r"^[0-9]{1,64}$")
PHONE_NUMBER_ID_INVALID = _(
    "The phone number id is the provider's id of the number: 1 to 64 letters, digits, dots, dashes "
    "or underscores, e.g. 770000000000001."
)
WABA_ID_INVALID = _("The business account id is the provider's numeric id, e.g. 880000000000001.")
PHONE_NUMBER_ID_TAKEN = _("This phone number id is already connected.")
DISPLAY_NUMBER_INVALID = _("Enter the display number in international format, e.g. +4930123456.")


def phone_number_connect(
    *, company: Company, phone_number_id: str, display_number: str, access_token: str = "", waba_id: str = ""
) -> PhoneNumber:
    """Connects a provider number to the company (its PhoneNumber and the public route).

    `waba_id`, the number's WhatsApp Business Account, routes template status webhooks;
    when not given it is learnt from the number's first webhook.

    Raises ValidationError (`phone_number_id`, `display_number`) on bad input or when the
    id is connected already, to this company or another; nothing is changed then.
    """
    phone_number_id = (phone_number_id or "").strip()
    if not PHONE_NUMBER_ID_RE.match(phone_number_id):
        raise ValidationError({"phone_number_id": [PHONE_NUMBER_ID_INVALID]})
    try:
        display = phone_normalize(display_number)
    except ValidationError as exc:
        raise ValidationError({"display_number": [DISPLAY_NUMBER_INVALID]}) from exc
    waba_id = (waba_id or "").strip()
    if waba_id and not WABA_ID_RE.match(waba_id):
        raise ValidationError({"waba_id": [WABA_ID_INVALID]})
    with schema_context(company.schema_name):
        return _connect(
            company=company,
            phone_number_id=phone_number_id,
            display=display,
            token=access_token.strip(),
            waba_id=waba_id,
        )


@transaction.atomic
def _connect(*, company: Company, phone_number_id: str, display: str, token: str, waba_id: str) -> PhoneNumber:
    if PhoneNumberRoute.objects.filter(phone_number_id=phone_number_id).exists():
        raise ValidationError({"phone_number_id": [PHONE_NUMBER_ID_TAKEN]})
    billing.limits_reserve(company=company, kind=billing.KIND_PHONE_NUMBER)  # PlanLimitExceeded
    try:
        with transaction.atomic():
            PhoneNumberRoute.objects.create(
                phone_number_id=phone_number_id, company=company, waba_id=waba_id, display_number=display
            )
    except IntegrityError as exc:
        raise ValidationError({"phone_number_id": [PHONE_NUMBER_ID_TAKEN]}) from exc
    # A number connected before and disconnected keeps its row (its threads point to it).
    number = PhoneNumber.objects.filter(phone_number_id=phone_number_id).first()
    if number is None:
        number = PhoneNumber.objects.create(phone_number_id=phone_number_id, display_number=display, access_token=token)
    else:
        number.display_number = display
        number.access_token = token
        number.save(update_fields=["display_number", "access_token"])
    return number


def phone_number_disconnect(*, company: Company, phone_number: PhoneNumber) -> None:
    """Stops routing the number to the company and forgets its token.

    The PhoneNumber row is deleted when no thread uses it; otherwise it stays (history
    keeps its number) and can be connected again.
    """
    with schema_context(company.schema_name):
        _disconnect(company=company, phone_number=phone_number)


@transaction.atomic
def _disconnect(*, company: Company, phone_number: PhoneNumber) -> None:
    PhoneNumberRoute.objects.filter(phone_number_id=phone_number.phone_number_id, company=company).delete()
    if phone_number.threads.exists():
        PhoneNumber.objects.filter(pk=phone_number.pk).update(access_token="")
    else:
        PhoneNumber.objects.filter(pk=phone_number.pk).delete()
