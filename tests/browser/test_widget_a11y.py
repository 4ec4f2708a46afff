"""WCAG 2.2 AA of the widget on the demo page and on host pages: light, dark, RTL, other languages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import axe_run, colours
from tests.browser.conftest import Api, ContextFactory, Traffic, poll

pytestmark = pytest.mark.browser

NETWORKS = ["facebook", "x", "linkedin", "whatsapp", "telegram", "reddit", "bluesky", "email", "copy"]
TEXT = " ".join(["The council met on Tuesday and agreed the budget after a long debate."] * 6)
# Placeholder sizing from the README's widget section: what the bar and the list need once drawn.
RESERVE = """
[data-eng-share] { min-height: 240px; }
[data-eng-related] { min-height: 560px; }
@media (max-width: 520px) { [data-eng-share] { min-height: 396px; } }
"""
HOST = """<!doctype html>
<html lang="{lang}"{dir}><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>A host page</title>
<style>
  body {{ margin: 0; font: 17px/1.6 Georgia, serif; }}
  main {{ max-width: 760px; margin: 0 auto; padding: 0 20px; }}
  {style}
</style></head>
<body><main>
  <h1>{title}</h1>
  <div data-eng-share></div>
  <p>{text}</p><p>{text}</p>
  <div data-eng-related></div>
  <p>{text}</p>
</main>
<script async src="{service}/widget.js" data-article-id="{article}"{attrs}></script>
</body></html>"""
SCHEMES: dict[str, dict[str, Any]] = {
    "light": {"style": "body { background: #fff; color: #1a1a1a; }"},
    # Paints itself dark and says nothing about colour schemes: the widget reads the background.
    "dark": {"style": "body { background: #15171a; color: #e8e8e8; } a { color: #9cf; }"},
    # Declares both schemes and paints in system colours; the reader prefers dark.
    "dark-scheme": {"style": ":root { color-scheme: light dark; background: Canvas; color: CanvasText; }",
                    "color_scheme": "dark"},
}
# Paints nothing at all: only the colour scheme makes the canvas dark. axe takes an unpainted canvas for
# white, so this one is checked by the colour maths below only.
CANVAS = {"style": ":root { color-scheme: light dark; }", "color_scheme": "dark"}


def catalog(api: Api, article_id: str) -> None:
    """The article, three related ones (shared tags) and one share on every network."""
    tags = [f"{article_id} one", f"{article_id} two", f"{article_id} three"]
    api.put_article(article_id, tags=tags)
    for i in range(3):
        api.put_article(f"{article_id}-r{i}", title=f"Related story number {i} about the budget", tags=tags[:2])
    for network in NETWORKS:
        api.share(article_id, network)


def host_page(traffic: Traffic, article: str, *, lang: str = "en", rtl: bool = False, style: str = "",
              attrs: str = "", title: str = "A story") -> str:
    html = HOST.format(lang=lang, dir=' dir="rtl"' if rtl else "", style=style, text=TEXT, title=title,
                       service=traffic.service, article=article, attrs=attrs)
    path = f"/{article}-{len(traffic.pages)}"
    traffic.pages[path] = ("text/html", html.encode())
    return traffic.site + path


def shadow(page: Page, placeholder: str) -> Any:
    return page.locator(f"[data-eng-{placeholder}] eng-widget")


def wait_drawn(page: Page, counted: bool = True) -> None:
    expect(page.locator("[data-eng-share] button").first).to_be_visible()
    expect(page.locator("[data-eng-related] li a").first).to_be_visible()
    if counted:
        expect(page.locator("[data-eng-share] button[data-network=x] .c")).to_have_text("1")


def open_host(new_context: ContextFactory, url: str, color_scheme: str = "light", **options: Any) -> Page:
    page = new_context(color_scheme=color_scheme, **options).new_page()
    page.goto(url)
    wait_drawn(page)
    return page


def assert_axe_clean(page: Page) -> None:
    result = axe_run(page)
    assert result.violations == [], "\n".join(result.violations)
    assert result.in_shadow  # the widget's shadow roots are open and axe looked inside them


def test_demo_page_has_no_axe_violations(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/demo")
    wait_drawn(page, counted=False)
    assert_axe_clean(page)


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_host_pages_have_no_axe_violations(
    new_context: ContextFactory, api: Api, traffic: Traffic, scheme: str
) -> None:
    catalog(api, f"ax-{scheme}")
    url = host_page(traffic, f"ax-{scheme}", style=SCHEMES[scheme]["style"])
    page = open_host(new_context, url, SCHEMES[scheme].get("color_scheme", "light"))
    assert_axe_clean(page)
    assert traffic.external == []


CONTRAST = """(sel) => {
  const root = document.querySelector(sel).shadowRoot;
  const out = {};
  for (const b of root.querySelectorAll('button')) {
    const label = b.querySelector('.v'), badge = b.querySelector('.c');
    const s = getComputedStyle(b), around = Colours.backdrop(b.parentElement);
    const border = Colours.parse(s.borderTopColor);
    const edge = border[3] > 0 ? Colours.over(border, around) : Colours.backdrop(b);
    const badgeBg = Colours.backdrop(badge);
    out[b.dataset.network] = {
      label: Colours.text(label),
      badge: Colours.ratio(Colours.parse(getComputedStyle(badge).color), badgeBg),
      boundary: Colours.ratio(edge, around),
      filter: s.filter,
    };
  }
  return out;
}"""
RING = """(sel) => {
  const root = document.querySelector(sel).shadowRoot;
  const e = root.activeElement, s = getComputedStyle(e);
  const around = Colours.backdrop(e.parentElement);
  return {style: s.outlineStyle, width: parseFloat(s.outlineWidth), offset: parseFloat(s.outlineOffset),
          ring: Colours.ratio(Colours.over(Colours.parse(s.outlineColor), around), around),
          inner: Colours.ratio(Colours.parse(s.outlineColor), Colours.backdrop(e))};
}"""
TEXTS = """(sel) => {
  const out = {};
  for (const [name, q] of [['heading', 'h2'], ['total', '.total'], ['title', '.rel a'], ['meta', '.m']]) {
    for (const host of document.querySelectorAll('eng-widget')) {
      const e = host.shadowRoot.querySelector(q);
      if (e && e.textContent) out[name] = Colours.text(e);
    }
  }
  return out;
}"""


def tab_to(page: Page, network: str) -> None:
    """Moves the keyboard focus (so :focus-visible applies) to a share button."""
    page.locator("h1").click()
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "ENG-WIDGET" and page.evaluate(
            "document.querySelector('[data-eng-share] eng-widget').shadowRoot.activeElement.dataset.network"
        ) == network:
            return
    raise AssertionError(f"Tab never reached the {network} button")


@pytest.mark.parametrize("scheme", [*SCHEMES, "canvas"])
def test_badges_labels_and_focus_ring_contrast(
    new_context: ContextFactory, api: Api, traffic: Traffic, scheme: str
) -> None:
    catalog(api, f"cr-{scheme}")
    host = SCHEMES.get(scheme, CANVAS)
    page = open_host(new_context, host_page(traffic, f"cr-{scheme}", style=host["style"]),
                     host.get("color_scheme", "light"))
    dark = scheme != "light"
    assert shadow(page, "share").locator("section").evaluate("s => s.classList.contains('dk')") is dark
    bar = "[data-eng-share] eng-widget"
    texts = colours(page, TEXTS)
    assert set(texts) == {"heading", "total", "title", "meta"}
    assert min(texts.values()) >= 4.5, texts
    for state in ("rest", "hover"):
        for network in NETWORKS:
            if state == "hover":
                page.locator(f"[data-eng-share] button[data-network={network}]").hover()
            found = colours(page, CONTRAST, bar)[network]
            assert found["label"] >= 4.5 and found["badge"] >= 4.5, (state, network, found)
            assert found["boundary"] >= 3, (state, network, found)  # 1.4.11: the button stands out
            assert found["filter"] == "none"
    for network in ("facebook", "x", "copy"):
        tab_to(page, network)
        ring = colours(page, RING, bar)
        assert ring["style"] == "solid" and ring["width"] >= 2 and ring["offset"] >= 1, ring
        assert ring["ring"] >= 3, (network, ring)  # against the page colour it sits on (2.4.11, 1.4.11)


def test_rtl_host_page_gets_arabic_strings_laid_out_right_to_left(
    new_context: ContextFactory, api: Api, traffic: Traffic
) -> None:
    catalog(api, "rtl")
    url = host_page(traffic, "rtl", lang="ar", rtl=True, title="\u062e\u0628\u0631")
    page = open_host(new_context, url)
    assert_axe_clean(page)
    bar = shadow(page, "share")
    expect(bar.locator("section")).to_have_attribute("lang", "ar")
    expect(bar.locator("h2")).to_have_text("\u0623\u062e\u0628\u0631 \u0623\u0635\u062f\u0642\u0627\u0621\u0643!")
    geometry = page.evaluate("""() => {
      const root = document.querySelector('[data-eng-related] eng-widget').shadowRoot;
      const list = root.querySelector('ol').getBoundingClientRect(), a = root.querySelector('a');
      const box = a.getBoundingClientRect(), s = getComputedStyle(root.querySelector('section'));
      return {align: s.textAlign, direction: s.direction, gapRight: list.right - box.right,
              gapLeft: box.left - list.left};
    }""")
    assert geometry["align"] == "start" and geometry["direction"] == "rtl"
    assert geometry["gapRight"] < 2 < geometry["gapLeft"], geometry  # the titles start on the right


LANGS = {
    "en": ("Let your friends know!", "Related News", "Copy link"),
    "de": ("Sag es deinen Freunden!", "Mehr zum Thema", "Link kopieren"),
    "fr": ("Partagez avec vos amis\u00a0!", "\u00c0 lire aussi", "Copier le lien"),
    "es": ("\u00a1Comp\u00e1rtelo con tus amigos!", "Noticias relacionadas", "Copiar enlace"),
    "ar": ("\u0623\u062e\u0628\u0631 \u0623\u0635\u062f\u0642\u0627\u0621\u0643!",
           "\u0623\u062e\u0628\u0627\u0631 \u0630\u0627\u062a \u0635\u0644\u0629",
           "\u0646\u0633\u062e \u0627\u0644\u0631\u0627\u0628\u0637"),
}


@pytest.mark.parametrize(("how", "lang"), [("data-lang", lang) for lang in LANGS] + [("page", "de"), ("page", "fr")])
def test_strings_table_follows_data_lang_or_the_page(
    new_context: ContextFactory, api: Api, traffic: Traffic, how: str, lang: str
) -> None:
    article = f"lang-{how}-{lang}"
    catalog(api, article)
    page_lang = lang if how == "page" else "en-GB"
    url = host_page(traffic, article, lang=page_lang, attrs=f' data-lang="{lang}"' if how == "data-lang" else "")
    page = open_host(new_context, url)
    share_heading, related_heading, copy = LANGS[lang]
    bar, rel = shadow(page, "share"), shadow(page, "related")
    expect(bar.locator("h2")).to_have_text(share_heading)
    expect(rel.locator("h2")).to_have_text(related_heading)
    expect(bar.locator("section")).to_have_attribute("lang", lang)
    expect(rel.locator("section")).to_have_attribute("lang", lang)
    copy_button = bar.locator("button[data-network=copy]")
    expect(copy_button.locator(".v")).to_have_text(copy)
    assert copy_button.get_attribute("aria-label") is None
    expect(copy_button).to_have_accessible_name(re.compile("^" + re.escape(copy) + ", .*1"))  # 2.5.3
    titles = rel.locator("li")
    if page_lang.split("-")[0] == lang:
        assert titles.first.get_attribute("lang") is None  # same language as the section around it
    else:
        expect(titles.first).to_have_attribute("lang", page_lang)  # catalog text is in the page's language


def test_english_strings_on_a_page_in_another_language_say_so(
    new_context: ContextFactory, api: Api, traffic: Traffic
) -> None:
    catalog(api, "lang-pt")
    url = host_page(traffic, "lang-pt", lang="pt-BR", attrs=' data-share-heading="Compartilhe"')
    page = open_host(new_context, url)
    bar, rel = shadow(page, "share"), shadow(page, "related")
    expect(bar.locator("section")).to_have_attribute("lang", "en")  # no Portuguese table: English, marked
    expect(bar.locator("h2")).to_have_text("Compartilhe")
    expect(bar.locator("h2")).to_have_attribute("lang", "pt-BR")  # the host's own heading, in its language
    expect(rel.locator("h2")).to_have_text("Related News")
    assert rel.locator("h2").get_attribute("lang") is None
    expect(rel.locator("li").first).to_have_attribute("lang", "pt-BR")
    assert_axe_clean(page)


WATCH_TOTAL = """
window.__total = [];
new MutationObserver(() => {
  const host = document.querySelector('[data-eng-share] eng-widget');
  const total = host && host.shadowRoot && host.shadowRoot.querySelector('.total');
  if (!total || total.__watched) return;
  total.__watched = true;
  new MutationObserver((records) => records.forEach((r) => window.__total.push(
    [r.type, total.textContent, r.type === 'attributes' ? total.getAttribute('aria-live') : null]
  ))).observe(total, {childList: true, characterData: true, subtree: true, attributes: true});
}).observe(document, {childList: true, subtree: true});
"""


def test_total_is_announced_only_when_it_changes(
    new_context: ContextFactory, api: Api, traffic: Traffic
) -> None:
    catalog(api, "live")
    context = new_context()
    context.add_init_script(WATCH_TOTAL)
    page = context.new_page()
    page.goto(host_page(traffic, "live"))
    wait_drawn(page)
    total = shadow(page, "share").locator(".total")
    expect(total).to_have_attribute("aria-live", "polite")
    records = page.evaluate("window.__total")
    assert records[0][:2] == ["childList", "9 shares"], records  # the first count came with no live region
    assert ["attributes", "9 shares", "polite"] in records[1:]
    with context.expect_page() as popup:
        page.locator("[data-eng-share] button[data-network=x]").click()
    popup.value.close()
    expect(total).to_have_text("10 shares")  # this change is inside the live region: announced


def test_forced_colours_keep_button_boundaries(new_context: ContextFactory, api: Api, traffic: Traffic) -> None:
    catalog(api, "forced")
    page = open_host(new_context, host_page(traffic, "forced"), forced_colors="active")
    assert page.evaluate("matchMedia('(forced-colors: active)').matches")
    borders = page.locator("[data-eng-share] button").evaluate_all(
        "bs => bs.map(b => { const s = getComputedStyle(b); return [s.borderTopStyle, s.borderTopWidth, "
        "s.borderTopColor]; })")
    for style, width, colour in borders:
        assert style == "solid" and float(width.rstrip("px")) >= 1 and colour != "rgba(0, 0, 0, 0)", borders


def test_no_horizontal_scroll_at_320_px(new_context: ContextFactory, api: Api, traffic: Traffic) -> None:
    catalog(api, "narrow")
    page = open_host(new_context, host_page(traffic, "narrow"), viewport={"width": 320, "height": 640})
    widths = page.evaluate("""() => {
      const bar = document.querySelector('[data-eng-share] eng-widget').shadowRoot.querySelector('section');
      return {page: document.documentElement.scrollWidth, bar: bar.scrollWidth, barBox: bar.clientWidth};
    }""")
    assert widths["page"] <= 320 and widths["bar"] <= widths["barBox"], widths


CLS = """() => new Promise((done) => {
  let total = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (!e.hadRecentInput) total += e.value;
  }).observe({type: 'layout-shift', buffered: true});
  requestAnimationFrame(() => requestAnimationFrame(() => done(total)));
})"""


@pytest.mark.parametrize("width", [375, 320, 1280])
def test_reserved_placeholders_keep_layout_shift_below_0_1(
    new_context: ContextFactory, api: Api, traffic: Traffic, width: int
) -> None:
    catalog(api, f"cls-{width}")
    slow = new_context(viewport={"width": width, "height": 800})
    page = slow.new_page()
    page.goto(host_page(traffic, f"cls-{width}", style=RESERVE))
    wait_drawn(page)
    page.wait_for_load_state("networkidle")
    assert page.evaluate(CLS) < 0.1
    # The measurement does see shifts: without the reserved space the same page shifts.
    bare = slow.new_page()
    bare.goto(host_page(traffic, f"cls-{width}"))
    wait_drawn(bare)
    bare.wait_for_load_state("networkidle")
    poll(lambda: bare.evaluate(CLS) > 0, what="a layout shift without reserved space")
