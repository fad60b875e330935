"""Suite-wide fixtures: two companies with personas, made once per test session.

- company_a ("acme", free plan): alice (owner) and bob (agent)
- company_b ("globex", enterprise plan): charlie (owner)

Their schemas are committed once for the whole session; each test runs inside a
transaction that is rolled back, so rows a test makes never leak into the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from tenants import services as tenant_services
from tenants.models import Company

PASSWORD = "correct-horse-battery-staple"


@dataclass(frozen=True)
class Persona:
    user: User
    company: Company
    password: str = PASSWORD

    @property
    def host(self) -> str:
        return tenant_services.company_host(self.company)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--url-coverage",
        action="store_true",
        default=False,
        help="fail the run when a URL pattern of either URLconf was never requested by a test",
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not session.config.getoption("--url-coverage") or exitstatus != 0:
        return
    from config.testing import untested_routes

    missing = untested_routes(["config.urls_public", "config.urls_tenant"])
    if missing:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["ERROR: some URLs are untested (every URL pattern needs a test that requests it):", *missing]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """pytest-django's setup, but always for the default database.

    pytest-django sets a database up only when a collected test asks for `db`; the session
    personas (and tests that need committed rows, such as the Celery worker test) need it
    whatever the selection.
    """
    from django.test.utils import setup_databases, teardown_databases

    keepdb = django_db_keepdb and not django_db_createdb
    with django_db_blocker.unblock():
        db_cfg = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            aliases={"default"},
            serialized_aliases=set(),
            keepdb=keepdb,
        )
        cache.clear()
    yield
    if not keepdb:
        with django_db_blocker.unblock():
            teardown_databases(db_cfg, verbosity=request.config.option.verbose)


def _company(slug: str, name: str, plan: str, owner_email: str, owner_name: str) -> Company:
    existing = Company.objects.filter(slug=slug).first()
    if existing is not None:
        return existing
    return tenant_services.company_create(
        slug=slug,
        name=name,
        plan_code=plan,
        owner_email=owner_email,
        owner_name=owner_name,
        owner_password=PASSWORD,
    )


@pytest.fixture(scope="session")
def personas(django_db_setup: None, django_db_blocker: Any) -> dict[str, Persona]:
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        company_a = _company("acme", "Acme Pizza", "free", "alice@acme.test", "Alice Owner")
        company_b = _company("globex", "Globex Air", "enterprise", "charlie@globex.test", "Charlie Owner")
        with schema_context(company_a.schema_name):
            alice = User.objects.get(email="alice@acme.test")
            bob = User.objects.filter(email="bob@acme.test").first() or User.objects.create_user(
                "bob@acme.test", PASSWORD, name="Bob Agent", role=User.Role.AGENT
            )
        with schema_context(company_b.schema_name):
            charlie = User.objects.get(email="charlie@globex.test")
        connection.set_schema_to_public()
    return {
        "alice": Persona(alice, company_a),
        "bob": Persona(bob, company_a),
        "charlie": Persona(charlie, company_b),
    }


@pytest.fixture(autouse=True)
def _public_schema_and_clean_cache(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts in the public schema with an empty cache (throttles, counters)."""
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames:
        connection.set_schema_to_public()
    cache.clear()
    yield
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames:
        connection.set_schema_to_public()


@pytest.fixture
def company_a(personas: dict[str, Persona], db: None) -> Company:
    return personas["alice"].company


@pytest.fixture
def company_b(personas: dict[str, Persona], db: None) -> Company:
    return personas["charlie"].company


@pytest.fixture
def alice(personas: dict[str, Persona], db: None) -> Persona:
    return personas["alice"]


@pytest.fixture
def bob(personas: dict[str, Persona], db: None) -> Persona:
    return personas["bob"]


@pytest.fixture
def charlie(personas: dict[str, Persona], db: None) -> Persona:
    return personas["charlie"]


@pytest.fixture
def public_client() -> Client:
    """A browser on the public host."""
    return Client(HTTP_HOST="localhost")


@pytest.fixture
def client_a(company_a: Company) -> Client:
    """A browser on company A's host, not logged in."""
    return Client(HTTP_HOST=tenant_services.company_host(company_a))


@pytest.fixture
def client_b(company_b: Company) -> Client:
    """A browser on company B's host, not logged in."""
    return Client(HTTP_HOST=tenant_services.company_host(company_b))


def login_client(persona: Persona) -> Client:
    client = Client(HTTP_HOST=persona.host)
    client.force_login(persona.user)
    return client


@pytest.fixture
def alice_client(alice: Persona) -> Iterator[Client]:
    """A browser on A's host, logged in as alice (owner)."""
    with schema_context(alice.company.schema_name):
        client = login_client(alice)
    return client


@pytest.fixture
def bob_client(bob: Persona) -> Iterator[Client]:
    """A browser on A's host, logged in as bob (agent)."""
    with schema_context(bob.company.schema_name):
        client = login_client(bob)
    return client


@pytest.fixture
def charlie_client(charlie: Persona) -> Iterator[Client]:
    """A browser on B's host, logged in as charlie (owner)."""
    with schema_context(charlie.company.schema_name):
        client = login_client(charlie)
    return client


@pytest.fixture
def tenant_a(company_a: Company) -> Iterator[Company]:
    """Runs the test body with the connection in company A's schema."""
    with schema_context(company_a.schema_name):
        yield company_a


@pytest.fixture
def tenant_b(company_b: Company) -> Iterator[Company]:
    """Runs the test body with the connection in company B's schema."""
    with schema_context(company_b.schema_name):
        yield company_b
