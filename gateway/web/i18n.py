"""Languages of the pages: English (the message ids themselves) and Simplified Chinese.

The language is the ``lang`` cookie when the viewer chose one, else the best
match of the browser's Accept-Language, else English. A catalog is a JSON
file ``<lang>.json`` mapping the English text to its translation; several
directories (the shared one, the console's, the portal's) are merged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "lang"
# what a page says in its <html lang>
HTML_LANG = {"en": "en", "zh": "zh-Hans"}
SHARED_LOCALE = Path(__file__).parent / "locale"


def language_of(cookie: str | None, accept_language: str | None) -> str:
    """The viewer's language: a valid cookie wins, then Accept-Language by q-value."""
    if cookie in LANGUAGES:
        return cookie
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for part in (accept_language or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > best_q:
            best, best_q = primary, quality
    return best


@dataclass(frozen=True, slots=True)
class Catalogs:
    """Translations by language; English needs none."""

    by_language: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls, directories: Iterable[Path]) -> Catalogs:
        merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
        for directory in (SHARED_LOCALE, *directories):
            for lang in LANGUAGES:
                path = directory / f"{lang}.json"
                if path.is_file():
                    merged[lang].update(json.loads(path.read_text(encoding="utf-8")))
        return cls(merged)

    def translator(self, lang: str) -> Translator:
        return Translator(lang, self.by_language.get(lang, {}))


@dataclass(frozen=True, slots=True)
class Translator:
    lang: str
    messages: Mapping[str, str]

    def __call__(self, message: str, **values: object) -> str:
        text = self.messages.get(message) or message
        return text.format(**values) if values else text
