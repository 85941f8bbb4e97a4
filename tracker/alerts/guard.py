"""The SSRF guard's rules: which URLs and which addresses webhooks may reach.

Webhook URLs come from users, so without this anyone could make the server call its own
admin ports, the cloud metadata service (169.254.169.254) or the private network. The HTTP
client (tracker.alerts.http) applies ``address_problem`` to the address it actually connects
to, after DNS resolution, so a host name that resolves to a private address is caught too.
"""

import functools
import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Metadata services that are reachable at public-looking or odd addresses.
_METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}


# Deprecated site-local IPv6 (RFC 3879): Python 3.11 counts it as global.
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")


class RefusedTarget(Exception):
    """The guard refused a URL or address; nothing was sent and retrying will not help."""


def _allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return _parse_networks(tuple(settings.WEBHOOK_ALLOWED_NETWORKS))


@functools.lru_cache(maxsize=8)
def _parse_networks(networks: tuple[str, ...]) -> tuple:
    # Cached on the setting's value: it is read on every connection of a large fan-out.
    return tuple(ipaddress.ip_network(net, strict=False) for net in networks)


def address_problem(address: IPAddress) -> str:
    """Why connecting to ``address`` is refused, or "" when it is allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in _allowed_networks()):
        return ""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _SITE_LOCAL:
            return f"{address} is a site-local address"
        # 6to4 and Teredo addresses carry an IPv4 address that relays deliver to: judge
        # that one (2002:a00:1:: reaches 10.0.0.1 through a 6to4 relay).
        embedded = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            problem = address_problem(embedded)
            if problem:
                return f"{address} embeds {problem}"
    if address in _METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    for label, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("private", address.is_private),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return f"{address} is a {label} address"
    if not address.is_global:
        # Shared address space (100.64.0.0/10) and other special-purpose ranges.
        return f"{address} is not a public address"
    return ""


def target_refusal(host: str) -> str:
    """What the endpoint's owner is told when ``host`` resolves to (or connects to) an
    address the guard refuses. The address itself and why it is refused go to the log only:
    telling a user what an internal name resolves to would map the private network for them.
    """
    return f"Refused: the target {host} is not allowed (webhooks may only reach public addresses)."


def url_problem(url: str) -> str:
    """Why a webhook URL is refused before any DNS lookup, or "" when it may be tried.

    Checks the scheme and, when the host is a literal IP address, that address. Host names
    are checked at connect time (their DNS answer can change).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "Only http:// and https:// URLs can receive webhooks."
    if parts.scheme == "http" and not settings.WEBHOOK_ALLOW_HTTP:
        return "Webhook URLs must use https://."
    host = parts.hostname
    if not host:
        return "The URL has no host."
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return ""
    problem = address_problem(address)
    return f"{problem[0].upper()}{problem[1:]}, which webhooks may not reach." if problem else ""


def url_allowed_validator(url: str) -> None:
    """Form validator: the refusal ``url_problem`` gives, shown on the URL field (the
    services check the same)."""
    problem = url_problem(url)
    if problem:
        raise ValidationError(problem)
