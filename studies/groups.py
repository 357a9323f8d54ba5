"""Participants in groups: overall, by country, by workshop or by a participant variable.

One rule for every table and page that splits participants: the groups in their order, and the
group of each participant. The order of a variable's groups: a choice variable's choices first
(listed even when nobody has them), then the other values present, sorted (a number variable's
numerically), and "(missing)" last, for participants without a value.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from studies.models import Participant, ParticipantValue, Study, Variable, Workshop

ALL = "all"
MISSING = "(missing)"
GROUPINGS_HELP = "country, workshop or variable:NAME"


class UnknownGroup(ValueError):
    """A grouping that names no group of the study; the message names the known ones."""


@dataclass
class ParticipantGroups:
    """How a study's participants fall into groups.

    `by` is the grouping as asked (None for everyone together), `groups` the group labels in
    order (a country's ISO code, a workshop's code, a variable's value, or "all"), and `of` the
    group of each participant by participant id."""

    by: str | None
    kind: str  # all, country, workshop, variable
    groups: list[str]
    of: dict[int, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How to name the grouping to a person: "all", "country", or the variable's name."""
        if self.kind == "variable" and self.by:
            return self.by.partition(":")[2].strip()
        return self.kind

    def members(self, group: str) -> list[int]:
        """The ids of the participants in `group`."""
        return [pk for pk, own in self.of.items() if own == group]

    def sizes(self) -> dict[str, int]:
        """How many participants each group has, zeros included, in group order."""
        counts = dict.fromkeys(self.groups, 0)
        for own in self.of.values():
            counts[own] = counts.get(own, 0) + 1
        return counts


def values_order(kind: str, choices: list[str], present: set[str]) -> list[str]:
    """A variable's groups: its choices, then the other values present sorted (numerically for
    a number variable; what does not read as a number after the numbers), then MISSING."""
    values = list(choices)
    rest = sorted(v for v in present if v not in values and v != MISSING)
    if kind == Variable.Kind.NUMBER:
        rest.sort(key=lambda v: (_as_float(v), v))
    return values + rest + ([MISSING] if MISSING in present else [])


def _as_float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("inf")


def grouping_choices(study: Study) -> list[tuple[str, str]]:
    """(value of `by`, what to call it) for every grouping of the study, for a form's select:
    overall (""), country, workshop, and each participant variable."""
    names = Variable.objects.filter(study=study).order_by("order", "name")
    return [("", "Overall"), ("country", "Country"), ("workshop", "Workshop")] + [
        (f"variable:{name}", name) for name in names.values_list("name", flat=True)
    ]


def participant_groups(study: Study, by: str | None) -> ParticipantGroups:
    """The study's participants grouped `by` None (everyone in "all"), "country", "workshop"
    or "variable:NAME" (the name matched regardless of case). Raises UnknownGroup naming the
    known groupings, or the study's variables, for anything else."""
    people = list(
        Participant.objects.current()
        .filter(study=study)
        .values_list("pk", "workshop__code", "workshop__country")
    )
    if by in (None, ""):
        return ParticipantGroups(None, ALL, [ALL], {pk: ALL for pk, _w, _c in people})
    kind, _, name = by.partition(":")
    kind, name = kind.strip().lower(), name.strip()
    if kind == "country" and not name:
        countries = Workshop.objects.filter(study=study).values_list("country", flat=True)
        of = {pk: str(country or "") or MISSING for pk, _w, country in people}
        groups = sorted({str(c) for c in countries if c})
        if MISSING in of.values():
            groups.append(MISSING)
        return ParticipantGroups(by, "country", groups, of)
    if kind == "workshop" and not name:
        groups = list(Workshop.objects.filter(study=study).values_list("code", flat=True))
        return ParticipantGroups(by, "workshop", groups, {pk: w for pk, w, _c in people})
    if kind == "variable" and name:
        variables = {
            v.name.casefold(): v for v in Variable.objects.filter(study=study).order_by("order")
        }
        variable = variables.get(name.casefold())
        if variable is None:
            known = ", ".join(v.name for v in variables.values()) or "none"
            raise UnknownGroup(
                f"Unknown variable '{name}' in '{by}': the study's variables are {known}."
            )
        values: dict[int, str] = defaultdict(str)
        for pk, value in ParticipantValue.objects.filter(variable=variable).values_list(
            "participant_id", "value"
        ):
            values[pk] = value
        of = {pk: values[pk] or MISSING for pk, _w, _c in people}
        groups = values_order(variable.kind, variable.choice_list, set(of.values()))
        return ParticipantGroups(f"variable:{variable.name}", "variable", groups, of)
    names = ", ".join(Variable.objects.filter(study=study).values_list("name", flat=True))
    raise UnknownGroup(
        f"Unknown group '{by}': use {GROUPINGS_HELP}"
        + (f" (this study's variables: {names})." if names else " (this study has no variables).")
    )
