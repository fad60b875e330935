"""Outgoing-request guard: an integrator's URL may only reach the public internet.

A webhook URL is checked when it is saved and again right before every delivery (DNS can
change between the two: rebinding). The delivery then connects to the very address that
was checked, never resolving the name a second time (`PinnedTarget`); TLS still verifies
the certificate against the host name through SNI. Private targets are allowed only with
`WEBHOOKS_ALLOW_PRIVATE_TARGETS` (development and tests).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.utils.translation import gettext_lazy as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
SCHEME_MESSAGE = _("Use an http:// or https:// URL.")
HOST_MESSAGE = _("The URL needs a host name.")
UNRESOLVABLE_MESSAGE = _("The host name {host} could not be resolved.")
PRIVATE_MESSAGE = (
    "The host {host} resolves to {address}, which is not a public internet address "
    "(loopback, private, link-local and the like are refused)."
)


class UnsafeUrlError(ValueError):
    """The URL may not be called: wrong scheme, no host, unresolvable or not public."""


@dataclass(frozen=True)
class PinnedTarget:
    """A checked URL and the addresses it resolved to, in the resolver's order."""

    url: httpx.URL
    addresses: tuple[IPAddress, ...]

    @property
    def host(self) -> str:
        return self.url.raw_host.decode("ascii")

    def url_for(self, address: IPAddress) -> httpx.URL:
        """The same URL with the host replaced by one checked address."""
        return self.url.copy_with(host=str(address))

    @property
    def host_header(self) -> str:
        """`Host` as the URL names it (with a non-default port), without user info."""
        return self.url.netloc.decode("ascii")


def address_is_public(address: IPAddress) -> bool:
    """Whether a connection to this address leaves our network for the public internet."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        # Shared address space (100.64/10), benchmarking nets and the like: not private
        # by the module's definition, but not reachable on the internet either.
        or not address.is_global
    )


def addresses_resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    """Every address the resolver gives for `host`, duplicates removed, order kept."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrlError(UNRESOLVABLE_MESSAGE.format(host=host)) from exc
    seen: dict[IPAddress, None] = {}
    for _family, _type, _proto, _canonname, sockaddr in infos:
        # IPv6 scope ids ("fe80::1%eth0") are dropped: such addresses are refused anyway.
        seen[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    if not seen:
        raise UnsafeUrlError(UNRESOLVABLE_MESSAGE.format(host=host))
    return tuple(seen)


def url_parse(url: str) -> httpx.URL:
    """The URL as httpx reads it (the same parser the delivery uses), scheme and host checked."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UnsafeUrlError(SCHEME_MESSAGE) from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise UnsafeUrlError(SCHEME_MESSAGE)
    if not parsed.raw_host:
        raise UnsafeUrlError(HOST_MESSAGE)
    return parsed


def url_check(url: str) -> PinnedTarget:
    """Resolves the URL's host; UnsafeUrlError unless every address is public.

    One private address among public ones is enough to refuse: the connection could
    land on any of them.
    """
    parsed = url_parse(url)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = addresses_resolve(host, port)
    if not settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
        for address in addresses:
            if not address_is_public(address):
                raise UnsafeUrlError(PRIVATE_MESSAGE.format(host=parsed.host, address=address))
    return PinnedTarget(url=parsed, addresses=addresses)
