"""Canonical article URLs: one form per page, whatever scheme, slash or tracking tags a link carries."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

# Query parameters that only say where a reader came from, never which page it is.
TRACKING_PREFIXES = ("utm_", "mtm_", "pk_")
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id",
    "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id",
    "vero_id", "wickedid", "rb_clickid", "s_cid", "ref_src", "ref_url",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking(param: str) -> bool:
    """True for query parameters that only carry campaign or click tracking."""
    name = param.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str | None:
    """`host[:port]/path?query` with scheme, trailing slash, fragment and tracking tags dropped; None if not http(s)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.rstrip(".")
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k))
    return f"{host}{path}" + (f"?{urlencode(query)}" if query else "")


UTM_TAGS = ("utm_source", "utm_medium", "utm_campaign")
_SEPARATORS = re.compile(r"([&;])")
_URI_CHARS = "".join(chr(c) for c in range(0x21, 0x7F))  # printable ASCII, '%' included: escapes stay as they are


def with_utm(article_url: str, network: str) -> str:
    """The article URL byte for byte, with our three UTM tags added (or replacing the same three).

    Works on the raw query string: every other parameter, its escapes (even ones that are not UTF-8),
    its `;` or `&` separator and a value-less `?amp` stay exactly as stored. Only characters a URI
    cannot carry (non-ASCII, spaces, controls) are percent-encoded, as a browser would send them.
    """
    base, hash_, fragment = article_url.partition("#")
    path, _q, query = base.partition("?")
    kept = _without_utm(query)
    tags = f"utm_source={quote(network, safe='')}&utm_medium=social&utm_campaign=share"
    url = f"{_ascii_host(path)}?{kept}{'&' if kept else ''}{tags}{hash_}{fragment}"
    return url if url.isascii() and url.isprintable() and " " not in url else quote(url, safe=_URI_CHARS)


def _without_utm(query: str) -> str:
    """`query` with the UTM_TAGS parameters removed, each other parameter after its own separator."""
    if not query:
        return ""
    pieces = _SEPARATORS.split(query)  # [param, sep, param, sep, param, ...]
    out: list[str] = []
    for i in range(0, len(pieces), 2):
        param = pieces[i]
        if param.partition("=")[0] in UTM_TAGS:
            continue
        if out:
            out.append(pieces[i - 1])
        out.append(param)
    return "".join(out)


def _ascii_host(head: str) -> str:
    """`scheme://host[:port]/path` with an internationalised host in its IDNA (punycode) form."""
    scheme, sep, rest = head.partition("://")
    netloc, slash, path = rest.partition("/")
    if netloc.isascii():
        return head
    try:
        netloc = netloc.encode("idna").decode("ascii")
    except UnicodeError:
        return head
    return f"{scheme}{sep}{netloc}{slash}{path}"
