"""Short notes on malformed input, collected while one message is parsed."""

from __future__ import annotations

import re

_MAX_NOTES = 64
_CAMEL_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class Defects:
    """An ordered, de-duplicated, bounded list of notes such as ``charset_unknown:x-foo``."""

    def __init__(self) -> None:
        self._notes: dict[str, None] = {}

    def add(self, note: str) -> None:
        if note and len(self._notes) < _MAX_NOTES:
            self._notes.setdefault(note[:200], None)

    def add_stdlib(self, found: object) -> None:
        """A defect of the stdlib parser, named like ours: ``StartBoundaryNotFoundDefect``
        becomes ``start_boundary_not_found``."""
        name = type(found).__name__.removesuffix("Defect")
        self.add(_CAMEL_WORD.sub("_", name).lower())

    def as_tuple(self) -> tuple[str, ...]:
        return tuple(self._notes)
