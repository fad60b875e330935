"""`manage.py seed_demo`: demo companies, logins and API keys for `make run`. Idempotent.

- pizzeria (free plan): owner@pizzeria.test (owner), agent@pizzeria.test (agent)
- airline (enterprise plan): owner@airline.test (owner), admin@airline.test (admin),
  agent@airline.test (agent)
- operator@localhost: a staff superuser of the public schema, for /admin/
- airline's business details are verified (badge, verify links); the pizzeria's are not

Every demo login uses DEMO_PASSWORD. Only what is missing is created: a second run changes
nothing. API keys are stored hashed and shown once, so a key named "demo" is made (and
printed) only when the company has no active one. Also tops up the pool of ready schemas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import ApiKey, User
from accounts.services import api_key_create
from inbox.models import CannedReply, PhoneNumber, Thread
from inbox.phones import phone_normalize
from inbox.providers import sandbox
from inbox.services import numbers
from tenants import services, verification
from tenants.models import BusinessProfile, Company

DEMO_PASSWORD = "kontakt-demo"  # noqa: S105  # printed on purpose: demo data only
OPERATOR_EMAIL = "operator@localhost"
DEMO_KEY_NAME = "demo"


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: str


@dataclass(frozen=True)
class DemoCompany:
    slug: str
    name: str
    plan: str
    owner: DemoUser
    agents: tuple[DemoUser, ...]
    # The sandbox provider's number and a few customers writing in, so the inbox is alive.
    phone_number_id: str
    display_number: str
    customers: tuple[tuple[str, str, str], ...]  # (phone, profile name, first message)
    canned: tuple[tuple[str, str, str], ...]  # (shortcut, title, body)


DEMO_COMPANIES = (
    DemoCompany(
        slug="pizzeria",
        name="Pizzeria Napoli",
        plan="free",
        owner=DemoUser("owner@pizzeria.test", "Maria Rossi", User.Role.OWNER),
        agents=(DemoUser("agent@pizzeria.test", "Luca Bianchi", User.Role.AGENT),),
        phone_number_id="100000000000001",
        display_number="+49 30 1234567",
        customers=(
            ("+4915112345678", "Ana Pérez", "Hallo! Habt ihr heute Abend noch einen Tisch für 4 frei?"),
            ("+4917612345678", "Jonas", "Is the Margherita vegan if I skip the cheese?"),
        ),
        canned=(("thanks", "Thanks", "Thank you for your message! We will get back to you in a few minutes."),),
    ),
    DemoCompany(
        slug="airline",
        name="Kontakt Air",
        plan="enterprise",
        owner=DemoUser("owner@airline.test", "Olivia Park", User.Role.OWNER),
        agents=(
            DemoUser("admin@airline.test", "Ava Jensen", User.Role.ADMIN),
            DemoUser("agent@airline.test", "Noah Schmidt", User.Role.AGENT),
        ),
        phone_number_id="100000000000002",
        display_number="+49 69 7654321",
        customers=(
            ("+4915798765432", "Claire Martin", "Is flight KA123 to Lisbon on time? My gate changed twice."),
            ("+34612345678", "Diego", "I need to change my booking XK4711 to tomorrow, is that possible?"),
            ("+4915211223344", "Emma", "My suitcase did not arrive in Berlin. What should I do?"),
        ),
        canned=(
            ("thanks", "Thanks", "Thank you for contacting Kontakt Air. An agent will be with you shortly."),
            ("rebook", "Rebooking", "You can rebook free of charge in the app or reply here with your booking code."),
        ),
    ),
)


# Business details the demo verifies (the airline shows the badge; the pizzeria does not).
DEMO_IDENTITY = {
    "airline": {
        "legal_name": "Kontakt Air GmbH",
        "display_name": "Kontakt Air",
        "website": "https://airline.example",
        "registration_number": "HRB 424242",
        "address": "Flughafenstraße 1, 60549 Frankfurt am Main",
        "verify_links_enabled": True,
    }
}


class Command(BaseCommand):
    help = "Create the demo companies, logins and API keys (idempotent) and fill the schema pool."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-pool", action="store_true", help="do not top up the pool of ready schemas")

    def handle(self, *args: Any, **options: Any) -> None:
        connection.set_schema_to_public()
        lines = [f"Demo logins (password for all: {DEMO_PASSWORD})"]
        lines.append(f"  operator  {self._public_url('/admin/')}  {self._operator()}")
        for demo in DEMO_COMPANIES:
            company, created = self._company(demo)
            users = self._users(company, demo)
            key_line = self._api_key(company, users[0])
            number_line = self._conversations(company, demo)
            identity_line = self._identity(company, demo)
            state = "created" if created else "exists"
            lines.append(f"  {demo.slug:<9} {services.company_url(company)}  ({company.plan} plan, {state})")
            lines.extend(f"              {user.email:<22} {user.role}" for user in users)
            lines.append(f"              {key_line}")
            lines.append(f"              {number_line}")
            lines.append(f"              {identity_line}")
        if not options["no_pool"]:
            result = services.tenant_pool_fill()
            lines.append(f"Schema pool: {result.ready} ready ({result.built} built now)")
        connection.set_schema_to_public()
        self.stdout.write("\n".join(lines))

    def _public_url(self, path: str) -> str:
        port = f":{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT else ""
        return f"{settings.PUBLIC_SCHEME}://{settings.BASE_DOMAIN}{port}{path}"

    def _operator(self) -> str:
        if not User.objects.filter(email=OPERATOR_EMAIL).exists():
            User.objects.create_superuser(OPERATOR_EMAIL, DEMO_PASSWORD, name="Demo Operator")
            return f"{OPERATOR_EMAIL} (created)"
        return OPERATOR_EMAIL

    def _company(self, demo: DemoCompany) -> tuple[Company, bool]:
        existing = Company.objects.filter(slug=demo.slug).first()
        if existing is not None:
            return existing, False
        company = services.company_create(
            slug=demo.slug,
            name=demo.name,
            plan_code=demo.plan,
            owner_email=demo.owner.email,
            owner_password=DEMO_PASSWORD,
            owner_name=demo.owner.name,
        )
        connection.set_schema_to_public()
        return company, True

    def _users(self, company: Company, demo: DemoCompany) -> list[User]:
        with schema_context(company.schema_name):
            users = [User.objects.filter(role=User.Role.OWNER).order_by("id").first()]
            for agent in demo.agents:
                user = User.objects.filter(email=agent.email).first() or User.objects.create_user(
                    agent.email, DEMO_PASSWORD, name=agent.name, role=agent.role
                )
                users.append(user)
        return [user for user in users if user is not None]

    def _api_key(self, company: Company, owner: User) -> str:
        hint = f'new one: make manage ARGS="create_api_key {company.slug} --name NAME"'
        with schema_context(company.schema_name):
            existing = ApiKey.objects.filter(name=DEMO_KEY_NAME, revoked_at__isnull=True).first()
            if existing is not None:
                return f'API key "{DEMO_KEY_NAME}" exists (kt_{existing.prefix}_…, shown only when made); {hint}'
            issued = api_key_create(name=DEMO_KEY_NAME, created_by=owner)
        return f"API key (shown once, save it): {issued.key}"

    def _identity(self, company: Company, demo: DemoCompany) -> str:
        """Verifies the demo's business details once (audited as `seed_demo`)."""
        details = DEMO_IDENTITY.get(demo.slug)
        profile = BusinessProfile.objects.filter(company=company).first()
        if details is not None and profile is None:
            verification.business_profile_submit(company=company, submitted_by=None, **details)
            profile = verification.company_verify(company=company, actor=None, actor_label="seed_demo")
        check = self._public_url(f"/verify/?phone={quote(phone_normalize(demo.display_number))}")
        if profile is not None and profile.is_verified:
            return f"verified as {profile.verified_display_name!r}; public check: {check}"
        return f"not verified (submit details under Settings → Business identity); public check: {check}"

    def _conversations(self, company: Company, demo: DemoCompany) -> str:
        """Connects the sandbox number, adds canned replies, and plays customers writing in."""
        with schema_context(company.schema_name):
            number = PhoneNumber.objects.filter(phone_number_id=demo.phone_number_id).first()
        if number is None:
            number = numbers.phone_number_connect(
                company=company, phone_number_id=demo.phone_number_id, display_number=demo.display_number
            )
        with schema_context(company.schema_name):
            for shortcut, title, body in demo.canned:
                CannedReply.objects.get_or_create(shortcut=shortcut, defaults={"title": title, "body": body})
            has_threads = Thread.objects.exists()
        if not has_threads:
            for phone, name, text in demo.customers:
                sandbox.customer_says(phone_number=number, sender=phone, text=text, profile_name=name)
        connection.set_schema_to_public()
        return (
            f"number {number.display_number} (sandbox); play a customer: "
            f'make manage ARGS="sandbox_customer_says {company.slug} --from +4915100000000 --text Hello"'
        )
