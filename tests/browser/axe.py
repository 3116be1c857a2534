"""axe-core in the browser tests: each HTML page a test's browser context loads is checked against
the WCAG 2 A and AA rules once it has loaded (conftest's `page` fixture fails the test on a
violation). axe-core comes from node_modules/, which `make test` installs from package-lock.json."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from playwright.sync_api import BrowserContext, Error, Page

AXE_SOURCE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# Playwright evaluates init scripts through the DevTools protocol, before the page's own scripts and
# outside the page's Content-Security-Policy, which stays as strict as in production. Only top-level
# http(s) HTML documents are checked, once, after their load event; a run that completes reports
# through __axeChecked, so a page the test leaves before then counts as started, not checked. An
# error in axe itself is reported as the violation `axe-error`: the check never goes blind silently.
RUNNER = """
(() => {
  if (window !== window.top || !location.protocol.startsWith('http')) return;
  window.addEventListener('load', () => {
    if (document.contentType !== 'text/html') return;
    const url = location.href;
    window.__axeStarted(url);
    const options = {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}, resultTypes: ['violations']};
    window.__axeDone = axe.run(document, options).then(
      results => results.violations.map(v => ({rule: v.id, targets: v.nodes.map(n => n.target.flat().join(' '))})),
      error => [{rule: 'axe-error', targets: [String(error)]}],
    ).then(violations => window.__axeChecked(url, violations));
  }, {once: true});
})();
"""

# Waits until the page's document has loaded and its check, if one started, has reported.
FINISH = """
async () => {
  const checked = async () => {
    if (document.readyState !== 'complete') await new Promise(done => addEventListener('load', done, {once: true}));
    await new Promise(done => setTimeout(done));
    await window.__axeDone;
  };
  await Promise.race([checked(), new Promise(done => setTimeout(done, 10000))]);
}
"""


class _Found(TypedDict):
    rule: str
    targets: list[str]


@dataclass(frozen=True)
class Violation:
    url: str
    rule: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.url}: {self.rule} at {', '.join(self.targets)}"


@dataclass
class Tally:
    """The session's count, for the terminal summary: pages whose check started, and completed."""

    started: int = 0
    checked: int = 0


@dataclass
class AxeChecker:
    """The pages of one browser context: those whose check started, those checked, what was found."""

    started: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        if not AXE_SOURCE.exists():
            raise RuntimeError(f"{AXE_SOURCE} is missing: `make test` installs it (npm ci).")
        context.expose_function("__axeStarted", self._started)
        context.expose_function("__axeChecked", self._checked)
        context.add_init_script(AXE_SOURCE.read_text(encoding="utf-8"))
        context.add_init_script(RUNNER)

    def _started(self, url: str) -> None:
        self.started.append(url)

    def _checked(self, url: str, found: Sequence[_Found]) -> None:
        self.checked.append(url)
        self.violations.extend(Violation(url, item["rule"], tuple(item["targets"])) for item in found)

    def finish(self, context: BrowserContext) -> None:
        """Let the check of each open page's current document complete."""
        for page in context.pages:
            self.finish_page(page)

    def finish_page(self, page: Page) -> None:
        with contextlib.suppress(Error):  # Closed or navigating away: that run no longer counts.
            page.evaluate(FINISH)

    def take(self, url: str) -> list[Violation]:
        """Remove and return the violations found on `url`: for a page broken on purpose."""
        taken = [violation for violation in self.violations if violation.url == url]
        self.violations = [violation for violation in self.violations if violation.url != url]
        return taken

    def report(self) -> str:
        lines = [f"axe-core (WCAG 2 A, AA) found {len(self.violations)} violation(s):"]
        return "\n".join([*lines, *(f"  {violation}" for violation in self.violations)])
