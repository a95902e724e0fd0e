"""The explicit mapping of parser kinds. An unknown kind in config is a startup error."""

from __future__ import annotations

from collections.abc import Mapping

from parsers.base import ParserFactory
from parsers.generic import GenericParser

PARSERS: Mapping[str, ParserFactory] = {
    "generic": GenericParser.from_options,
}
