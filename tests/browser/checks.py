"""The checks issue 17's walks run on every page they open: sideways scroll, untranslated text, broken
images and axe-core's serious or critical violations (WCAG 2 A and AA). axe-core is vendored in
tests/browser/vendor (never served to users); a context gets it with ``context.add_init_script(path=AXE)``.
"""

from __future__ import annotations

from pathlib import Path

from tests.web.test_every_page_zh import ALLOWED_ASCII, ENGLISH_WORDS

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"

# What the browser measures on each page (one evaluate, after the load event).
MEASURE = """() => {
  const root = document.scrollingElement;
  const wide = root.scrollWidth > window.innerWidth
    ? [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && e.checkVisibility())
        .filter(e => !e.parentElement
          || e.parentElement.getBoundingClientRect().right <= window.innerWidth + 1)
        .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
          + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''))
    : null;
  const broken = [...document.images].filter(i => i.complete && i.naturalWidth === 0)
    .map(i => i.getAttribute('src'));
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const parent = n.parentElement;
    if (!parent || parent.closest('script, style, noscript, textarea, code, pre, [translate=no]')) continue;
    if (parent.tagName !== 'OPTION' && !parent.checkVisibility()) continue;
    // a part marked in another language (a message in its recipient's language) is not the page's
    const part = parent.closest('[lang]');
    if (part && part !== document.documentElement && part.lang !== document.documentElement.lang) continue;
    const text = n.textContent.replace(/\\s+/g, ' ').trim();
    if (text) texts.push(text);
  }
  for (const e of document.querySelectorAll('input[placeholder], textarea[placeholder]'))
    texts.push(e.getAttribute('placeholder').trim());
  for (const e of document.querySelectorAll('[aria-label], img[alt], [title]'))
    if (!e.closest('[translate=no]'))
      texts.push((e.getAttribute('aria-label') || e.getAttribute('alt') || e.getAttribute('title')).trim());
  return {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, wide, broken, texts,
          lang: document.documentElement.lang};
}"""

# axe.run over WCAG 2 A and AA; only serious and critical violations fail the walk.
AXE_RUN = """async (rules) => {
  const only = rules ? {type: 'rule', values: rules} : {type: 'tag', values: ['wcag2a', 'wcag2aa']};
  const result = await axe.run(document, {runOnly: only, resultTypes: ['violations']});
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' :: ' + n.failureSummary
                  .split('\\n').slice(1, 2).join('').trim())}));
}"""

# The second language renders the same templates with the same colours: what can change is the
# language itself and the length of the words, which can push a table into scrolling inside itself.
# There the walk runs the rules that depend on these (a second full run would double its time).
SECOND_LANGUAGE_RULES = [
    "html-has-lang",
    "html-lang-valid",
    "valid-lang",
    "scrollable-region-focusable",
    "document-title",
]


def _untranslated(texts: list[str], english: set[str]) -> list[str]:
    found = []
    for text in texts:
        if text in english:
            found.append(f"untranslated {text!r}")
        elif ENGLISH_WORDS.search(text) and not ALLOWED_ASCII.fullmatch(text):
            found.append(f"English text {text!r}")
    return found


def _check(page, url: str, language: str, english: set[str], status: int = 200) -> list[str]:
    """Opens ``url`` and checks the page it answers with (``status`` expected)."""
    response = page.goto(url)
    if response is None or response.status != status:
        return [f"HTTP {response.status if response else '?'}"]
    if "html" not in response.headers.get("content-type", ""):
        return []  # a download (a CSV, a PDF) linked from a list
    return check_page(page, language, english)


def check_page(page, language: str, english: set[str]) -> list[str]:
    """The page as it is now (after a click or a form's answer): its problems, none when it is clean."""
    problems = []
    # the one page that draws after the load event: the map picker fetches its shapes, then draws
    page.wait_for_function(
        "() => { const box = document.querySelector('[data-map-picker]');"
        " return !box || box.hidden || box.querySelector('.leaflet-control-zoom'); }"
    )
    seen = page.evaluate(MEASURE)
    expected_lang = "zh-hans" if language == "zh-hans" else "en"
    if seen["lang"] != expected_lang:
        problems.append(f'<html lang="{seen["lang"]}">, expected {expected_lang}')
    if seen["wide"] is not None:
        problems.append(
            f"sideways scroll: {seen['scrollWidth']} px wide in {seen['innerWidth']} px, from {seen['wide']}"
        )
    problems += [f"broken image {src}" for src in seen["broken"]]
    if language == "zh-hans":
        problems += sorted(set(_untranslated(seen["texts"], english)))
    for violation in page.evaluate(AXE_RUN, None if language == "zh-hans" else SECOND_LANGUAGE_RULES):
        problems.append(f"axe {violation['impact']} {violation['id']}: {'; '.join(violation['nodes'])}")
    return problems
