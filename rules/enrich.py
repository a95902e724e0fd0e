"""Enrichment actions: set incident fields from literals or templates, map to the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from rules.catalogue import Catalogue
from rules.decision import IncidentType
from rules.draft import Draft
from rules.fields import Getter
from rules.templates import Template


@dataclass(frozen=True, slots=True)
class SetText:
    """``title: "{labels.instance} down"``: a field from a template."""

    field: str
    template: Template

    def apply(self, draft: Draft) -> None:
        draft.set_field(self.field, self.template.render(draft))


@dataclass(frozen=True, slots=True)
class SetValue:
    """``impact: 2`` or ``type: service_request``: a field from a checked literal."""

    field: str
    value: int | IncidentType

    def apply(self, draft: Draft) -> None:
        draft.set_field(self.field, self.value)


@dataclass(frozen=True, slots=True)
class CatalogueLookup:
    """Map the event to a catalogue CI and fill service, group and owner from it.

    Runs before the rules (so rules can match on the service) and again after
    any rule that sets ``ci`` or ``service``. Fields a rule set on purpose are
    never overwritten.
    """

    catalogue: Catalogue
    ci_sources: tuple[Getter, ...]  # where to look for a CI name, in order

    def apply(self, draft: Draft) -> None:
        if "ci" in draft.explicit:
            candidates: list[str | None] = [draft.ci]
        else:
            candidates = [get(draft) for get in self.ci_sources]
        found = self.catalogue.find_ci(candidates)
        if found is None:
            self._fill_from_service(draft)
            return
        draft.catalogue_ci = found.name
        draft.ci = found.name
        self._fill(draft, "service", found.service)
        self._fill(draft, "environment", found.environment)
        self._fill(draft, "assignment_group", found.assignment_group)
        self._fill(draft, "owner", found.owner)
        self._fill_from_service(draft)

    def _fill_from_service(self, draft: Draft) -> None:
        service = self.catalogue.services.get(draft.service)
        if service is not None:
            self._fill(draft, "assignment_group", service.assignment_group, only_empty=True)
            self._fill(draft, "owner", service.owner, only_empty=True)

    @staticmethod
    def _fill(draft: Draft, name: str, value: str, *, only_empty: bool = False) -> None:
        if not value or name in draft.explicit or (only_empty and getattr(draft, name)):
            return
        setattr(draft, name, value)
        draft.expression_context = None
