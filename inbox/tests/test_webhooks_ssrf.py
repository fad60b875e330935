"""inbox.ssrf: webhook URLs may only reach public internet addresses."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from inbox import ssrf
from inbox.tests.webhook_receiver import FakeDns

SettingsWrapper = Any  # pytest-django's `settings` fixture


@pytest.fixture
def guard_on(settings: SettingsWrapper) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.10",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104  # the address under test
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_refuses_non_public_addresses(address: str) -> None:
    # when / then
    assert not ssrf.address_is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"])
def test_accepts_public_addresses(address: str) -> None:
    # when / then
    assert ssrf.address_is_public(ipaddress.ip_address(address))


def test_public_name_passes_and_keeps_its_addresses(guard_on: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setattr(socket, "getaddrinfo", FakeDns({"hooks.example.com": ["93.184.216.34", "2606:2800::1"]}))
    # when
    target = ssrf.url_check("https://hooks.example.com/kontakt?x=1")
    # then
    assert [str(a) for a in target.addresses] == ["93.184.216.34", "2606:2800::1"]
    assert str(target.url_for(target.addresses[1])) == "https://[2606:2800::1]/kontakt?x=1"
    assert target.host_header == "hooks.example.com"


def test_one_private_address_among_public_ones_is_enough_to_refuse(
    guard_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setattr(socket, "getaddrinfo", FakeDns({"mixed.example.com": ["93.184.216.34", "10.0.0.5"]}))
    # when / then
    with pytest.raises(ssrf.UnsafeUrlError, match=r"resolves to 10\.0\.0\.5"):
        ssrf.url_check("https://mixed.example.com/")


def test_loopback_is_refused_when_private_targets_are_off(guard_on: None) -> None:
    # when / then
    with pytest.raises(ssrf.UnsafeUrlError, match="not a public internet address"):
        ssrf.url_check("http://127.0.0.1:8000/hook")


def test_localhost_name_is_refused_when_private_targets_are_off(guard_on: None) -> None:
    # when / then
    with pytest.raises(ssrf.UnsafeUrlError):
        ssrf.url_check("http://localhost:8000/hook")


def test_loopback_is_allowed_when_private_targets_are_on(settings: SettingsWrapper) -> None:
    # given
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    # when
    target = ssrf.url_check("http://127.0.0.1:8000/hook")
    # then
    assert [str(a) for a in target.addresses] == ["127.0.0.1"]


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/", "file:///etc/passwd", "gopher://x/", "http:///nohost"])
def test_only_http_and_https_urls_with_a_host(guard_on: None, url: str) -> None:
    # when / then
    with pytest.raises(ssrf.UnsafeUrlError):
        ssrf.url_check(url)


def test_unresolvable_host_is_refused(guard_on: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setattr(socket, "getaddrinfo", FakeDns({}))
    # when / then
    with pytest.raises(ssrf.UnsafeUrlError, match="could not be resolved"):
        ssrf.url_check("https://nowhere.example.com/")
