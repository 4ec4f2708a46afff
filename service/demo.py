"""The demo catalog, from the news page this product was designed for."""

from __future__ import annotations

from datetime import timedelta

from .domain.articles import ArticleIn
from .domain.catalog import Catalog

DEMO_HOST = "https://t4k3.news"

# (id, title, tags, hours before now, section, summary)
DEMO_ARTICLES: list[tuple[str, str, list[str], int, str, str]] = [
    ("nk-workers-russia", "North Koreans Put to Work in Russia",
     ["North Korea", "Russia", "forced labor", "human rights", "Ukraine war"], 6, "World",
     "Thousands of North Korean workers are being sent to Russian construction sites and factories, "
     "earning hard currency for Pyongyang under conditions rights groups call forced labor."),
    ("sanctions-russia-congress", "Congressional conservatives push for stricter sanctions on Russia",
     ["Russia", "sanctions", "US Congress", "US politics"], 20, "Politics",
     "A group of conservative lawmakers wants secondary sanctions on buyers of Russian oil."),
    ("nk-it-worker-scheme", "Former North Korean IT worker exposes regime's funding scheme",
     ["North Korea", "IT workers", "sanctions", "forced labor"], 30, "World",
     "A defector describes how remote IT jobs abroad channel salaries to the regime."),
    ("nk-military-russia", "North Korea enhances military through Russian collaboration",
     ["North Korea", "Russia", "military", "Ukraine war"], 44, "World",
     "Analysts see Russian technology flowing to North Korea in exchange for troops and shells."),
    ("arizona-nk-fraud", "Arizona woman sentenced for North Korean fraud scheme",
     ["North Korea", "IT workers", "fraud", "courts"], 55, "Justice",
     "She ran a 'laptop farm' that let North Korean IT workers pose as Americans."),
    ("us-woman-nk-employment-fraud", "US woman sentenced for North Korea employment fraud",
     ["North Korea", "IT workers", "fraud", "courts"], 70, "Justice",
     "A federal judge handed down a prison term for helping overseas workers evade sanctions."),
    ("russia-nk-flights", "Russia resumes flights to North Korea for first time in decades",
     ["Russia", "North Korea", "aviation", "diplomacy"], 84, "World",
     "A direct Moscow-Pyongyang route reopens as the two governments draw closer."),
    ("weiner-trump-security", "Tim Weiner critiques Trump's impact on national security",
     ["Trump", "national security", "US politics"], 100, "Politics",
     "The historian argues that intelligence agencies have been weakened."),
    ("trump-alaska-summit", "Trump signals peace talks with Russia ahead of Alaska summit",
     ["Trump", "Russia", "Ukraine war", "diplomacy"], 120, "Politics",
     "The president hints at a framework for ending the war in Ukraine."),
]


async def load_demo(catalog: Catalog) -> int:
    """Create the demo articles that are missing (existing ones and their counts are kept)."""
    now = catalog.clock()
    loaded = 0
    for article_id, title, tags, hours, section, summary in DEMO_ARTICLES:
        if await catalog.find(article_id) is not None:
            continue
        data = catalog.parse({
            "url": f"{DEMO_HOST}/{article_id}",
            "title": title,
            "tags": tags,
            "published_at": (now - timedelta(hours=hours)).isoformat(),
            "section": section,
            "summary": summary,
        })
        await catalog.put(article_id, data)
        loaded += 1
    return loaded


__all__ = ["DEMO_ARTICLES", "ArticleIn", "load_demo"]
