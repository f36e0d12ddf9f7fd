"""Helpers for the browser tests: launching Debian's Chromium through Playwright, pages with a
given language and screen size, numbered screenshots and cheap accessibility checks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Playwright, ViewportSize

from tests.tools import chromium_binary

REPOSITORY = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPOSITORY / "test-artifacts" / "screenshots"

PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)

# The network is closed here: Chromium must not try to reach Google's services on its own
# (refused connections otherwise), nor use a GPU, a sandbox or much of /dev/shm.
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]


async def launch_browser(playwright: Playwright) -> Browser:
    """Headless Chromium from Debian's package (installed first if missing), fresh profile."""
    return await playwright.chromium.launch(
        executable_path=chromium_binary(), headless=True, args=BROWSER_ARGS, timeout=60_000
    )


class PageFactory:
    """New pages, each in a context of its own; ``close()`` closes every context made."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []

    async def __call__(
        self, locale: str = "en-GB", viewport: ViewportSize = DESKTOP, **options: Any
    ) -> Page:
        """A page whose requests carry ``Accept-Language: <locale>``; PHONE or DESKTOP size.
        ``options`` go to ``Browser.new_context`` (e.g. ``timezone_id``)."""
        context = await self.browser.new_context(
            locale=locale,
            viewport=viewport,
            is_mobile=viewport["width"] < 600,
            has_touch=viewport["width"] < 600,
            **options,
        )
        self.contexts.append(context)
        return await context.new_page()

    async def close(self) -> None:
        for context in reversed(self.contexts):
            await context.close()
        self.contexts.clear()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "unnamed"


class Screenshots:
    """Full-page PNGs in ``test-artifacts/screenshots/<test>/<NN>-<step>.png``, numbered in the
    order taken. Screenshots of an earlier run of the same test are removed first."""

    def __init__(self, test_name: str, root: Path = SCREENSHOTS) -> None:
        self.directory = root / _safe(test_name)
        shutil.rmtree(self.directory, ignore_errors=True)
        self.taken: list[Path] = []

    async def take(self, page: Page, step: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{len(self.taken) + 1:02d}-{_safe(step)}.png"
        await page.screenshot(path=path, full_page=True)
        self.taken.append(path)
        return path


_FAULTS_SCRIPT = """
() => {
  const faults = [];
  const lang = document.documentElement.getAttribute("lang");
  if (!lang || !lang.trim()) faults.push("<html> has no lang attribute");
  const unlabelled = new Set(["hidden", "submit", "button", "reset", "image"]);
  const text = (node) => {
    const copy = node.cloneNode(true);
    copy.querySelectorAll("input, select, textarea").forEach((c) => c.remove());
    return (copy.textContent || "").trim();
  };
  for (const field of document.querySelectorAll("input, select, textarea")) {
    const type = (field.getAttribute("type") || "text").toLowerCase();
    if (field.tagName === "INPUT" && unlabelled.has(type)) continue;
    const visible = field.checkVisibility
      ? field.checkVisibility({ visibilityProperty: true, opacityProperty: false })
      : field.getClientRects().length > 0;
    if (!visible) continue;
    if (Array.from(field.labels || []).some((label) => text(label))) continue;
    if ((field.getAttribute("aria-label") || "").trim()) continue;
    const ids = (field.getAttribute("aria-labelledby") || "").split(/\\s+/).filter(Boolean);
    if (ids.some((id) => { const el = document.getElementById(id); return el && text(el); })) continue;
    let name = field.tagName.toLowerCase();
    if (field.tagName === "INPUT") name += `[type=${type}]`;
    if (field.name) name += ` name="${field.name}"`;
    if (field.id) name += ` id="${field.id}"`;
    faults.push(`${name} has no label`);
  }
  return faults;
}
"""


async def check_labels(page: Page) -> None:
    """Cheap accessibility faults visible in the DOM: the document has a ``lang`` and every
    visible input, select and textarea (but hidden, submit, button, reset and image inputs) has
    a non-empty <label> (``for=`` or wrapping), ``aria-label`` or ``aria-labelledby``."""
    faults: list[str] = await page.evaluate(_FAULTS_SCRIPT)
    if faults:
        raise AssertionError(f"{page.url}: " + "; ".join(faults))


# WCAG 2 contrast of every visible text against the first opaque background behind it, and
# whether the page is wider than the window (a phone would have to scroll sideways).
_READABLE_SCRIPT = """
() => {
  const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const [r, g, b, a = 1] = rgb(getComputedStyle(node).backgroundColor);
      if (a > 0.5) return [r, g, b];
    }
    return [255, 255, 255];
  };
  const faults = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === "hidden") continue;
    const fore = luminance(rgb(getComputedStyle(el).color));
    const back = luminance(background(el));
    const ratio = (Math.max(fore, back) + 0.05) / (Math.min(fore, back) + 0.05);
    if (ratio < 4.5) faults.push(`${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 30)}" contrast ${ratio.toFixed(2)}`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    faults.push(`page is ${document.documentElement.scrollWidth}px wide in a ${window.innerWidth}px window`);
  }
  return faults;
}
"""


async def check_readable(page: Page) -> None:
    """Every text has a contrast of at least 4.5:1 (WCAG AA) and the page fits the window."""
    faults: list[str] = await page.evaluate(_READABLE_SCRIPT)
    if faults:
        raise AssertionError(f"{page.url}: " + "; ".join(faults))
