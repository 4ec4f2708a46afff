"""Share networks: their intent URLs, and the UTM tags a share link adds."""

from __future__ import annotations

from urllib.parse import quote

from ..records import NETWORKS as NETWORKS  # the names live in the leaf config and storage share
from ..records import Network as Network
from .urls import with_utm as with_utm  # share links add their UTM tags there

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
