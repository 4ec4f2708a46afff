"""Share networks: their intent URLs, and the UTM tags a share link adds."""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

Network = Literal[
    "facebook", "x", "linkedin", "whatsapp", "telegram", "reddit", "bluesky", "email", "copy", "native"
]
NETWORKS: tuple[str, ...] = (
    "facebook", "x", "linkedin", "whatsapp", "telegram", "reddit", "bluesky", "email", "copy", "native",
)

_INTENTS: dict[str, str] = {
    "facebook": "https://www.facebook.com/sharer/sharer.php?u={url}",
    "x": "https://x.com/intent/tweet?url={url}&text={title}",
    "linkedin": "https://www.linkedin.com/sharing/share-offsite/?url={url}",
    "whatsapp": "https://wa.me/?text={title}%20{url}",
    "telegram": "https://t.me/share/url?url={url}&text={title}",
    "reddit": "https://www.reddit.com/submit?url={url}&title={title}",
    "bluesky": "https://bsky.app/intent/compose?text={title}%20{url}",
    "email": "mailto:?subject={title}&body={url}",
}


def intent_url(network: str, share_url: str, title: str) -> str | None:
    """The network's share intent carrying `share_url`, every value percent-encoded."""
    template = _INTENTS.get(network)
    if template is None:
        return None
    return template.format(url=quote(share_url, safe=""), title=quote(title, safe=""))


_URL_SAFE = "/%:@!$&'()*+,;=-._~"


def with_utm(article_url: str, network: str) -> str:
    """The article URL with our UTM tags merged into its query (existing utm_* replaced)."""
    parts = urlsplit(article_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_")]
    query += [("utm_source", network), ("utm_medium", "social"), ("utm_campaign", "share")]
    path = quote(parts.path, safe=_URL_SAFE)
    fragment = quote(parts.fragment, safe=_URL_SAFE + "?")
    return urlunsplit(parts._replace(path=path, query=urlencode(query), fragment=fragment))
