"""docs/reliability.md names the tests that hold each promise: every file it names
exists, and every promise names at least one, so the page cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "reliability.md"
_NAMED = re.compile(r"`((?:tests|bench)/[^`\s]+\.py)`")


def _sections() -> dict[str, str]:
    """Each ``## `` section of the page by its title."""
    parts = re.split(r"^## (.+)$", PAGE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_file_the_page_names_exists() -> None:
    named = set(_NAMED.findall(PAGE.read_text(encoding="utf-8")))
    assert len(named) >= 10
    missing = sorted(path for path in named if not (REPO / path).is_file())
    assert missing == [], f"docs/reliability.md names files that do not exist: {missing}"


def test_every_promise_names_a_test() -> None:
    sections = _sections()
    assert len(sections) >= 9
    untested = [title for title, text in sections.items() if not _NAMED.search(text)]
    assert untested == [], f"promises without a test in docs/reliability.md: {untested}"
