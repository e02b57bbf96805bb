"""axe-core in the test browser: the audit the accessibility tests share.

axe-core comes bundled in ``axe-playwright-python`` (the ``test`` extra), injected into
the page under test only: the app never serves it.
"""

from __future__ import annotations

from collections import Counter

#: Moderate or minor axe rules that the README's "Accessibility" section justifies. Empty:
#: every rule axe-core checks passes on the page.
JUSTIFIED: frozenset[str] = frozenset()
BLOCKING = ("critical", "serious")

#: AG Grid draws its rows only once the grid is on screen (``ag-delay-render``): a reader
#: scrolls to it, so the audit does too, then returns to the top.
SHOW_GRID = """async () => {
  const grid = document.querySelector('#sites-grid');
  if (grid) grid.scrollIntoView();
  for (let i = 0; i < 100 && document.querySelector('.ag-delay-render'); i++) {
    await new Promise(r => setTimeout(r, 50));
  }
  window.scrollTo(0, 0);
  return !document.querySelector('.ag-delay-render');
}"""


def axe_violations(page) -> list[dict]:
    """Every axe-core violation on ``page`` (all rules: WCAG 2.1 A/AA and best practices)."""
    from axe_playwright_python.sync_playwright import Axe

    assert page.evaluate(SHOW_GRID), "the sites grid was never drawn"
    return Axe().run(page).response["violations"]


def by_impact(violations: list[dict]) -> Counter:
    return Counter(v["impact"] for v in violations)


def report(violations: list[dict]) -> str:
    """One line per violation: rule, impact, nodes and the first targets (for the failure)."""
    return "\n".join(
        f"{v['id']} ({v['impact']}): {len(v['nodes'])} node(s), e.g. "
        + ", ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        for v in violations
    )


def assert_accessible(page) -> Counter:
    """No critical or serious violation; moderate and minor ones only if justified."""
    violations = axe_violations(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, report(blocking)
    unjustified = [v for v in violations if v["id"] not in JUSTIFIED]
    assert not unjustified, report(unjustified)
    return by_impact(violations)
