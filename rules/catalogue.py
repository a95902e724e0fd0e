"""The service catalogue (config/catalogue.yaml): services, CIs, owners, groups, dependencies.

Events are mapped to a CI by name or alias; the CI gives the service, and the
CI or its service give the assignment group and owner. A CI's ``depends_on``
chain (its ancestors) drives topology correlation and inhibition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from core.validation import Strict, validate
from core.yamldoc import Problems, YamlDocument, read_yaml


class GroupSpec(Strict):
    name: str
    email: str = ""
    description: str = ""


class ServiceSpec(Strict):
    name: str
    description: str = ""
    owner: str = ""
    assignment_group: str = ""
    critical: bool = False
    depends_on: list[str] = Field(default_factory=list)


class CiSpec(Strict):
    name: str
    description: str = ""
    type: str = ""
    aliases: list[str] = Field(default_factory=list)
    service: str = ""
    environment: str = ""
    owner: str = ""
    assignment_group: str = ""
    depends_on: list[str] = Field(default_factory=list)


class CatalogueSpec(Strict):
    assignment_groups: list[GroupSpec] = Field(default_factory=list)
    services: list[ServiceSpec] = Field(default_factory=list)
    cis: list[CiSpec] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    owner: str
    assignment_group: str
    critical: bool
    depends_on: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConfigurationItem:
    name: str
    service: str
    environment: str
    owner: str  # the CI's own, else its service's
    assignment_group: str  # the CI's own, else its service's
    ancestors: tuple[str, ...]  # CIs it depends on, nearest first


@dataclass(frozen=True, slots=True)
class Catalogue:
    services: Mapping[str, Service]
    cis: Mapping[str, ConfigurationItem]
    names: Mapping[str, str]  # lower-cased name or alias -> CI name

    def find_ci(self, candidates: Iterable[str | None]) -> ConfigurationItem | None:
        """The first candidate that names a CI, also trying it without a ``:port``."""
        for candidate in candidates:
            if not candidate:
                continue
            key = candidate.strip().lower()
            name = self.names.get(key) or self.names.get(key.rsplit(":", 1)[0])
            if name is not None:
                return self.cis[name]
        return None

    def ancestors(self, ci: str) -> tuple[str, ...]:
        found = self.cis.get(ci)
        return found.ancestors if found is not None else ()

    def is_critical(self, service: str) -> bool:
        found = self.services.get(service)
        return found is not None and found.critical


EMPTY_CATALOGUE = Catalogue(services={}, cis={}, names={})


def load_catalogue(path: Path, problems: Problems) -> Catalogue:
    doc = read_yaml(path, problems)
    if doc is None:
        return EMPTY_CATALOGUE
    spec = validate(CatalogueSpec, doc, problems)
    if spec is None:
        return EMPTY_CATALOGUE
    return _compile(spec, doc, problems)


def _compile(spec: CatalogueSpec, doc: YamlDocument, problems: Problems) -> Catalogue:
    groups = _unique(
        [group.name for group in spec.assignment_groups],
        "assignment_groups",
        "assignment group",
        doc,
        problems,
    )
    service_names = _unique([s.name for s in spec.services], "services", "service", doc, problems)
    ci_names = _unique([ci.name for ci in spec.cis], "cis", "CI", doc, problems)

    # Listing assignment groups is optional; when they are listed, references must match.
    known_groups = groups if spec.assignment_groups else None

    def check(ref: str, known: set[str] | None, what: str, loc: tuple[str | int, ...]) -> None:
        if ref and known is not None and ref not in known:
            problems.add(doc.where(loc), f'{what} "{ref}" is not defined in this catalogue')

    services: dict[str, Service] = {}
    for index, service in enumerate(spec.services):
        check(
            service.assignment_group,
            known_groups,
            "assignment group",
            ("services", index, "assignment_group"),
        )
        for position, dep in enumerate(service.depends_on):
            check(dep, service_names, "service", ("services", index, "depends_on", position))
        services[service.name] = Service(
            service.name,
            service.owner,
            service.assignment_group,
            service.critical,
            tuple(service.depends_on),
        )
    names: dict[str, str] = {}
    for index, ci in enumerate(spec.cis):
        check(ci.service, service_names, "service", ("cis", index, "service"))
        check(
            ci.assignment_group,
            known_groups,
            "assignment group",
            ("cis", index, "assignment_group"),
        )
        for position, dep in enumerate(ci.depends_on):
            check(dep, ci_names, "CI", ("cis", index, "depends_on", position))
        for position, alias in enumerate([ci.name, *ci.aliases]):
            key = alias.lower()
            if names.get(key, ci.name) != ci.name:
                loc = (
                    ("cis", index, "aliases", position - 1) if position else ("cis", index, "name")
                )
                problems.add(doc.where(loc), f'"{alias}" already names CI "{names[key]}"')
            names[key] = ci.name
    parents = {ci.name: tuple(ci.depends_on) for ci in spec.cis}
    cis: dict[str, ConfigurationItem] = {}
    for index, ci in enumerate(spec.cis):
        ancestors, cyclic = _ancestors(ci.name, parents)
        if cyclic:
            problems.add(
                doc.where(("cis", index, "depends_on")),
                f'CI "{ci.name}" depends on itself through {", ".join(ancestors)}',
            )
        owning = services.get(ci.service)
        cis[ci.name] = ConfigurationItem(
            name=ci.name,
            service=ci.service,
            environment=ci.environment,
            owner=ci.owner or (owning.owner if owning else ""),
            assignment_group=ci.assignment_group or (owning.assignment_group if owning else ""),
            ancestors=ancestors,
        )
    return Catalogue(services=services, cis=cis, names=names)


def _unique(
    names: list[str], section: str, what: str, doc: YamlDocument, problems: Problems
) -> set[str]:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            problems.add(doc.where((section, index, "name")), f'{what} "{name}" is defined twice')
        seen.add(name)
    return seen


def _ancestors(start: str, parents: Mapping[str, tuple[str, ...]]) -> tuple[tuple[str, ...], bool]:
    """Breadth-first ancestors (nearest first), and whether ``start`` is among them."""
    order: list[str] = []
    cyclic = False
    frontier = list(parents.get(start, ()))
    while frontier:
        following: list[str] = []
        for name in frontier:
            if name == start:
                cyclic = True
            if name == start or name in order:
                continue
            order.append(name)
            following.extend(parents.get(name, ()))
        frontier = following
    return tuple(order), cyclic
