"""Who is asking: bot detection, client address and the cookieless visitor hash."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
from collections.abc import Sequence

from ..config import IPNetwork

_BOT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|preview|facebookexternalhit|facebookcatalog|meta-externalagent|"
    r"whatsapp|telegram|slack|discord|skypeuri|embedly|iframely|pinterest|vkshare|quora link|"
    r"bitlybot|tumblr|flipboard|mastodon|bluesky|cardyb|headlesschrome|phantomjs|lighthouse|"
    r"curl|wget|httpie|python-requests|python-urllib|python-httpx|aiohttp|go-http-client|okhttp|"
    r"java/|libwww|apache-httpclient|node-fetch|axios|scrapy|feedfetcher|monitor|uptime",
    re.IGNORECASE,
)


def is_bot(user_agent: str | None, method: str = "GET") -> bool:
    """Known bots, link-preview crawlers, scripts, an empty UA and HEAD requests."""
    if method == "HEAD" or not user_agent or not user_agent.strip():
        return True
    return _bot_agent(user_agent)


@functools.lru_cache(maxsize=8192)  # a few browsers send most requests: the regex runs once per UA
def _bot_agent(user_agent: str) -> bool:
    return bool(_BOT.search(user_agent))


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> str:
    """The peer address, or the right-most untrusted X-Forwarded-For hop behind trusted proxies."""
    if not forwarded_for or not trusted:
        return peer or ""
    ip = _parse(peer)
    if ip is None:
        return peer or ""
    if not forwarded_for or not _is_trusted(ip, trusted):
        return str(ip)
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        hop_ip = _parse(hop)
        if hop_ip is None:
            break
        ip = hop_ip
        if not _is_trusted(hop_ip, trusted):
            break
    return str(ip)


def _parse(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value) if value else None
    except ValueError:
        return None


def _is_trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[IPNetwork]) -> bool:
    return any(ip in net for net in trusted if ip.version == net.version)


def visitor_hash(salt: bytes, ip: str, user_agent: str) -> str:
    """Keyed hash of (IP, UA) under the day's salt; neither can be recovered from it."""
    return VisitorHasher(salt)(ip, user_agent)


class VisitorHasher:
    """`visitor_hash` under one salt, keyed once: each hash copies the keyed state (no key block per call)."""

    __slots__ = ("_keyed",)

    def __init__(self, salt: bytes) -> None:
        self._keyed = hashlib.blake2b(key=salt[:64], digest_size=16)

    def __call__(self, ip: str, user_agent: str) -> str:
        digest = self._keyed.copy()
        # surrogatepass: a header that was not UTF-8 reaches us as lone surrogates; hashed, never refused
        digest.update(f"{ip}\n{user_agent}".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def limiter(self, ip: str) -> str:
        """Keyed hash of the sender alone (its IP; an IPv6 address by its /64, which one host may rotate
        through) under the day's salt: the key of per-visitor windows and rate limits, which a rotated
        user agent must not escape. Distinct from every visitor hash (another message)."""
        if ":" in ip:
            ip = _ipv6_prefix(ip)
        digest = self._keyed.copy()
        digest.update(f"limiter\n{ip}".encode())
        return digest.hexdigest()


def _ipv6_prefix(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False).network_address) + "/64"
    return str(address)
