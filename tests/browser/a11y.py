"""Accessibility checks shared by the browser tests: axe-core (vendored) and the colour maths axe cannot do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Page as AsyncPage
from playwright.sync_api import Page

AXE_JS = (Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# Runs axe over the whole document (open shadow roots included) and lists each violation per node.
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  const violations = result.violations.flatMap((v) => v.nodes.map((n) =>
    `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(n.target)}: ${n.failureSummary}`));
  const inShadow = [...result.passes, ...result.incomplete, ...result.violations]
    .some((r) => r.nodes.some((n) => Array.isArray(n.target[0])));  // axe names shadow nodes by a path
  return {violations, inShadow};
}"""

# Colour maths on rendered (computed) colours. `Colours.backdrop(el)` composites every background from the
# canvas up to `el`, crossing shadow roots; the canvas colour is probed in the page's own colour scheme.
COLOURS = """
window.Colours = (() => {
  const parse = (c) => {
    const m = c.match(/[\\d.]+/g).map(Number);
    return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3])).concat([1]);
  const up = (e) => e.parentElement || (e.parentNode && e.parentNode.host) || null;
  const canvas = () => {
    const probe = document.createElement('div');
    probe.style.backgroundColor = 'Canvas';
    probe.style.colorScheme = getComputedStyle(document.documentElement).colorScheme;
    document.documentElement.append(probe);
    const c = parse(getComputedStyle(probe).backgroundColor);
    probe.remove();
    return c;
  };
  const backdrop = (e) => {
    const layers = [];
    for (let x = e; x; x = up(x)) layers.push(parse(getComputedStyle(x).backgroundColor));
    return layers.reverse().reduce((below, top) => over(top, below), canvas());
  };
  const lum = (c) => [0.2126, 0.7152, 0.0722].reduce((s, k, i) => {
    const v = c[i] / 255;
    return s + k * (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  }, 0);
  const ratio = (a, b) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100;
  };
  const text = (e) => ratio(over(parse(getComputedStyle(e).color), backdrop(e)), backdrop(e));
  return { parse, over, backdrop, ratio, text };
})();
"""


@dataclass(frozen=True)
class AxeResult:
    violations: list[str]
    in_shadow: bool  # axe looked at nodes inside a shadow root


def axe_run(page: Page, tags: list[str] | None = None) -> AxeResult:
    """Every axe-core violation on the page at the WCAG 2.x A/AA tags."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE_JS)  # evaluate, not a script tag: the pages' CSP forbids inline scripts
    found: dict[str, Any] = page.evaluate(RUN_AXE, tags or WCAG_TAGS)
    return AxeResult(found["violations"], found["inShadow"])


async def axe_run_async(page: AsyncPage, tags: list[str] | None = None) -> AxeResult:
    """axe_run for the async Playwright API."""
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.evaluate(AXE_JS)
    found: dict[str, Any] = await page.evaluate(RUN_AXE, tags or WCAG_TAGS)
    return AxeResult(found["violations"], found["inShadow"])


def colours(page: Page, script: str, arg: Any = None) -> Any:
    """Runs `script` (a function of `arg`) with `Colours` defined in the page."""
    page.evaluate(COLOURS)
    return page.evaluate(script, arg)
