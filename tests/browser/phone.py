"""Phone first (issue 2, item 11), shared by the browser tests: a 360 px touch screen, and what makes a page
unfit for it, found in the page itself after it has been laid out.

- nothing makes the page itself scroll sideways: a wide table scrolls inside its own box;
- nothing sticks out of the box drawn around it (a card, a bordered field), even where the page does not
  scroll;
- every visible link, button and form control is at least 24 by 24 CSS pixels, or far enough from the
  others, as WCAG 2.2's target size criterion (2.5.8) asks, with its exception for links in a sentence;
  and no two controls' boxes (their labels included) overlap;
- everything the page asks for loads (no style sheet, script, icon or request answered with an error);
- axe-core (the npm devDependency, node_modules/axe-core) finds no serious or critical failure of a WCAG 2.0,
  2.1 or 2.2 level A or AA rule (contrast, names and labels, landmarks, lang, duplicate ids...).
"""

import re
from functools import cache
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, Response

from tests.conftest import REPO

# The narrowest common Android width.
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
MIN_TARGET_PX = 24

# What sticks out sideways, and which controls are too small to tap: each described in a line.
LAYOUT_PROBLEMS = """
async (minTarget) => {
  await document.fonts.ready;
  const classes = (el) => typeof el.className === "string" && el.className.trim() ?
    "." + el.className.trim().split(/\\s+/).join(".") : "";
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + classes(el);
  const problems = [];
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width) {
    problems.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
    // Name the outermost elements that stick out (their parent fits), not everything inside them.
    const sticksOut = (el) => el.getBoundingClientRect().right > width + 1 && !clipped(el);
    const clipped = (el) => {
      for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
        if (["auto", "scroll", "hidden"].includes(getComputedStyle(up).overflowX)) return true;
      }
      return false;
    };
    const parentSticksOut = (el) => el.parentElement !== document.body && sticksOut(el.parentElement);
    const all = [...document.body.querySelectorAll("*")];
    const outermost = all.filter((el) => sticksOut(el) && !parentSticksOut(el));
    for (const el of outermost.slice(0, 5)) {
      problems.push(`  sticks out: ${name(el)} right=${Math.round(el.getBoundingClientRect().right)}`);
    }
  }
  // WCAG 2.5.8's exceptions: a link inside a sentence; an undersized target whose 24 px circle (centred
  // on it) meets no other target and no other undersized target's circle. A control's label is part of it.
  const inSentence = (el) => el.tagName === "A" && el.closest("p, li, td, dd") &&
    (el.closest("p, li, td, dd").textContent.trim().length > el.textContent.trim().length + 10);
  const boxOf = (el) => {
    let box = el.getBoundingClientRect();
    for (const label of el.labels || []) {
      const other = label.getBoundingClientRect();
      box = new DOMRect(Math.min(box.left, other.left), Math.min(box.top, other.top),
        Math.max(box.right, other.right) - Math.min(box.left, other.left),
        Math.max(box.bottom, other.bottom) - Math.min(box.top, other.top));
    }
    return box;
  };
  const targets = [...document.querySelectorAll(
    "a[href], button, input:not([type=hidden]), select, textarea, summary")].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== "hidden" &&
      !el.closest(".skip-link, .visually-hidden");
  }).map((el) => ({ el, box: boxOf(el) }));
  const small = (t) => t.box.width < minTarget || t.box.height < minTarget;
  const centre = (t) => [t.box.left + t.box.width / 2, t.box.top + t.box.height / 2];
  const circleMeetsBox = ([x, y], box) => {
    const dx = Math.max(box.left - x, 0, x - box.right), dy = Math.max(box.top - y, 0, y - box.bottom);
    return dx * dx + dy * dy < (minTarget / 2) ** 2;
  };
  for (const t of targets.filter(small)) {
    if (inSentence(t.el)) continue;
    const c = centre(t);
    const crowded = targets.some((o) => o !== t && !o.el.contains(t.el) && !t.el.contains(o.el) && (
      circleMeetsBox(c, o.box) ||
      (small(o) && Math.hypot(c[0] - centre(o)[0], c[1] - centre(o)[1]) < minTarget)));
    if (crowded) {
      problems.push(`small target: ${name(t.el)} "${t.el.textContent.trim().slice(0, 30)}" ` +
        `${Math.round(t.box.width)}x${Math.round(t.box.height)}`);
    }
  }
  // Two controls whose boxes (labels included) overlap: which one a tap takes, or which box a label
  // belongs to, is anyone's guess. Inline labels do this on a narrow screen, each one starting on the
  // line where the one before it ends.
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 &&
    Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  const labelled = targets.filter((t) => t.el.labels && t.el.labels.length);
  const overlapping = [];
  for (const t of labelled) {
    for (const o of targets) {
      if (o === t || o.el.contains(t.el) || t.el.contains(o.el)) continue;
      if (labelled.includes(o) && labelled.indexOf(o) < labelled.indexOf(t)) continue;  // each pair once
      if (overlap(t.box, o.box)) overlapping.push(`overlapping targets: ${name(t.el)} and ${name(o.el)}`);
    }
  }
  problems.push(...overlapping.slice(0, 5));
  // What sticks out of the nearest box drawn around it (a card, a bordered field, a banner), though the
  // page itself may not scroll: the box no longer holds what it seems to hold.
  const drawn = (style) => style.backgroundColor !== "rgba(0, 0, 0, 0)" ||
    parseFloat(style.borderLeftWidth) > 0 || parseFloat(style.borderRightWidth) > 0;
  const frameOf = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (["auto", "scroll", "hidden", "clip"].includes(style.overflowX)) return null;  // it scrolls there
      if (drawn(style)) return up;
    }
    return null;
  };
  const outside = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (!box.width || el.closest(".skip-link, .visually-hidden")) continue;
    const frame = frameOf(el);
    if (!frame) continue;
    const edge = frame.getBoundingClientRect();
    const out = box.right > edge.right + 1 || box.left < edge.left - 1;
    if (out && !outside.some((o) => o.contains(el))) {
      outside.push(el);
      const span = (r) => `${Math.round(r.left)}–${Math.round(r.right)}`;
      problems.push(`sticks out of ${name(frame)}: ${name(el)} ${span(box)} outside ${span(edge)}`);
    }
    if (outside.length >= 5) break;
  }
  return problems;
}
"""


def layout_problems(page: Page) -> list[str]:
    # A page a script moved to (a signing page's form) may be checked as soon as its address changed:
    # its style sheets first.
    page.wait_for_load_state("load")
    return page.evaluate(LAYOUT_PROBLEMS, MIN_TARGET_PX)


# scripts/setup installs it (npm ci, from package-lock.json); a missing file fails the check, never skips it.
AXE_SOURCE = REPO / "node_modules" / "axe-core" / "axe.min.js"
# What WCAG 2.2 AA asks for, criterion by criterion (axe's tags; each version's rules carry only its own tag).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE_IMPACTS = {"serious", "critical"}
AXE_TARGETS_SHOWN = 3

# axe runs in the page; its violations, each cut down to what a line of the report needs.
AXE_RUN = """
async ({tags, impacts}) => {
  const results = await axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return results.violations.filter((v) => impacts.includes(v.impact)).map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map((n) => n.target.join(" ")),
  }));
}
"""


@cache
def _axe_source() -> str:
    return AXE_SOURCE.read_text()


def accessibility_problems(page: Page) -> list[str]:
    """axe-core's serious and critical WCAG A/AA violations on the page as it is now, one line each. The
    script goes in through DevTools (page.evaluate), which the portal's Content-Security-Policy (scripts
    with its nonce only) does not govern; a <script> tag would be refused, as it should be."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    violations = page.evaluate(AXE_RUN, {"tags": AXE_TAGS, "impacts": sorted(AXE_IMPACTS)})
    return [
        f"axe {v['id']} ({v['impact']}, {len(v['targets'])}x): {v['help']}: "
        + ", ".join(v["targets"][:AXE_TARGETS_SHOWN])
        for v in violations
    ]


class LayoutFindings:
    """What a flow's pages do wrong on a phone, collected page by page so that one run names them all (the
    test asserts at its end). A full-page screenshot of each page found wanting, or of every page checked
    with `every_page` (PORTAL_TEST_SCREENSHOTS=1), to look at by eye: what these checks cannot see
    (text over text, a label cut off, a line too small to read). Screenshots are most of a check's time."""

    def __init__(self, screenshots: Path, *, every_page: bool = False) -> None:
        self.screenshots = screenshots
        self.every_page = every_page
        screenshots.mkdir(parents=True, exist_ok=True)
        self.problems: dict[str, list[str]] = {}
        self.failed_loads: list[str] = []
        self.checked: list[str] = []

    def watch(self, context: BrowserContext) -> None:
        """Records what any page of the context asked for and did not get. Pages themselves are left
        out: error pages (a refused scope, the card app's wrong PIN) answer 4xx on purpose."""
        context.on("response", self._record_failed_load)

    def _record_failed_load(self, response: Response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.failed_loads.append(f"{response.status} {response.url}")

    def check(self, page: Page, where: str) -> None:
        """The page as it is now, named by where it is in the flow and the language it is in."""
        where = f"{where} ({page.locator('html').get_attribute('lang')})"
        self.checked.append(where)
        problems = layout_problems(page) + accessibility_problems(page)
        if problems:
            self.problems[where] = problems
        if problems or self.every_page:
            slug = re.sub(r"[^A-Za-z0-9]+", "-", where).strip("-")
            page.screenshot(path=self.screenshots / f"{len(self.checked):02d}-{slug}.png", full_page=True)

    def check_both_languages(self, page: Page, where: str) -> None:
        """A page that a GET shows again: as it is (in Japanese), in English, then back in Japanese, as the
        flow goes on. Not for the answer to a form (loading its address again would not show it)."""
        url = page.url
        self.check(page, where)
        for language in ("en", "ja"):
            page.context.add_cookies([{"name": "django_language", "value": language, "url": url}])
            answer = page.goto(url)
            assert answer is not None and answer.status == 200, (url, language, answer and answer.status)
            if language == "en":
                self.check(page, where)

    def assert_fit(self) -> None:
        assert not self.failed_loads, self.failed_loads
        assert not self.problems, f"screenshots in {self.screenshots}\n" + "\n".join(
            f"{where}:\n  " + "\n  ".join(lines) for where, lines in self.problems.items()
        )
