"""Inter-coder reliability: percent agreement, Cohen's kappa, Fleiss' kappa and Krippendorff's
alpha, per code and pooled, over sentences, speaker turns or characters.

A code is present in a unit for a coder when any of that coder's codings of it (the coder layer,
not the consensus) overlaps the unit. Every unit of the documents in scope counts, coded or not,
facilitator turns included. A coder who neither coded nor was assigned a document has no
judgement there: their units in it are missing data, which only Krippendorff's alpha admits;
percent agreement and the kappas use the units every compared coder judged.

Values are unrounded. A measure that is undefined for the data (a code nobody applied, every
judgement in one category) is None with a note saying why, never a made-up 1.0 or 0.

numpy (and krippendorff, which loads it) is imported by the functions that compute: the pages,
the API and the commands that import this module for UNITS or machine_labels start without it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from coding.models import Assignment, Code, Coding, code_paths
from studies.models import Document, Sentence, Study, Turn
from studies.spans import SpanIndex

if TYPE_CHECKING:
    import numpy as np

UNITS = ("sentence", "turn", "character")

# Krippendorff (2004), Content Analysis, 2nd ed., ch. 11: rely on variables with alpha >= .800,
# draw tentative conclusions from .667 <= alpha < .800.
ALPHA_RELIABLE = 0.800
ALPHA_TENTATIVE = 0.667


def alpha_verdict(value: float | None) -> str | None:
    if value is None:
        return None
    if value >= ALPHA_RELIABLE:
        return "reliable"
    if value >= ALPHA_TENTATIVE:
        return "tentative"
    return "unreliable"


# --- The measures, for any nominal data ------------------------------------------------------
# A reliability matrix has one row per coder and one column per unit; a cell holds the category
# the coder gave the unit, or NaN where the coder gave none (missing).


def percent_agreement(matrix: np.ndarray) -> float | None:
    """The share of units, among those every coder judged, on which all coders agree."""
    import numpy as np

    complete = matrix[:, ~np.isnan(matrix).any(axis=0)]
    if complete.shape[1] == 0:
        return None
    return float((complete == complete[0]).all(axis=0).mean())


def cohen_kappa(first: Sequence[float], second: Sequence[float]) -> tuple[float | None, str]:
    """Cohen's kappa of two coders over the units both judged: (po - pe) / (1 - pe)."""
    import numpy as np

    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    both = ~(np.isnan(a) | np.isnan(b))
    a, b = a[both], b[both]
    if a.size == 0:
        return None, "the coders judged no unit in common"
    categories = np.union1d(a, b)
    observed = float((a == b).mean())
    expected = float(sum((a == c).mean() * (b == c).mean() for c in categories))
    if expected >= 1.0:
        return None, "undefined: both coders put every unit in the same category"
    return (observed - expected) / (1.0 - expected), ""


def fleiss_kappa(table: np.ndarray) -> tuple[float | None, str]:
    """Fleiss' kappa from a units x categories table of counts, each row summing to the number
    of raters (Fleiss 1971)."""
    import numpy as np

    table = np.asarray(table, dtype=float)
    if table.shape[0] == 0:
        return None, "no unit was judged by every coder"
    raters = table.sum(axis=1)
    n = raters[0]
    if n < 2 or not np.all(raters == n):
        return None, "Fleiss' kappa needs the same number (two or more) of coders on every unit"
    p_category = table.sum(axis=0) / table.sum()
    p_unit = ((table * table).sum(axis=1) - n) / (n * (n - 1))
    observed = float(p_unit.mean())
    expected = float((p_category * p_category).sum())
    if expected >= 1.0:
        return None, "undefined: every judgement is in the same category"
    return (observed - expected) / (1.0 - expected), ""


def krippendorff_alpha(matrix: np.ndarray) -> tuple[float | None, str]:
    """Krippendorff's alpha (nominal) with missing data, by the `krippendorff` package."""
    import krippendorff
    import numpy as np

    pairable = matrix[:, (~np.isnan(matrix)).sum(axis=0) >= 2]
    values = pairable[~np.isnan(pairable)]
    if values.size == 0:
        return None, "no unit was judged by two or more coders"
    if np.unique(values).size < 2:
        return None, "undefined: every judgement is in the same category"
    value = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    if value is None or math.isnan(value):
        return None, "undefined for these data"
    return float(value), ""


# --- Units and presence ----------------------------------------------------------------------


def unit_spans(document: Document, unit: str) -> list[tuple[int, int]]:
    """Every unit of a document, in order. Characters are the text's code points."""
    if unit == "sentence":
        rows = Sentence.objects.filter(document=document).order_by("start")
        return list(rows.values_list("start", "end"))
    if unit == "turn":
        rows = Turn.objects.filter(document=document).order_by("start")
        return list(rows.values_list("start", "end"))
    if unit == "character":
        return [(i, i + 1) for i in range(document.text_length)]
    raise ValueError(f"unknown unit {unit!r}: use one of {', '.join(UNITS)}")


@dataclass
class CodeAgreement:
    code_id: int | None
    path: str
    units: int
    coded_units: int
    percent_agreement: float | None
    cohen_kappa: float | None
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str | None:
        return alpha_verdict(self.krippendorff_alpha)

    def as_json(self) -> dict:
        data = {
            "units": self.units,
            "coded_units": self.coded_units,
            "percent_agreement": self.percent_agreement,
            "cohen_kappa": self.cohen_kappa,
            "fleiss_kappa": self.fleiss_kappa,
            "krippendorff_alpha": self.krippendorff_alpha,
            "notes": self.notes,
        }
        return data if self.code_id is None else {"code": self.path, **data}


@dataclass
class ReliabilityReport:
    unit: str
    coders: list[str]
    documents: list[int]
    overall: CodeAgreement
    codes: list[CodeAgreement]

    def as_json(self) -> dict:
        return {
            "unit": self.unit,
            "coders": self.coders,
            "documents": self.documents,
            "overall": self.overall.as_json(),
            "codes": [code.as_json() for code in self.codes],
        }


def measure(matrix: np.ndarray, *, code_id: int | None, path: str) -> CodeAgreement:
    """Every measure for one binary presence matrix (coders x units; 1, 0 or NaN)."""
    import numpy as np

    coders = matrix.shape[0]
    notes: list[str] = []
    coded = int((np.nan_to_num(matrix, nan=0.0) > 0).any(axis=0).sum())
    if coded == 0:
        notes.append("no coder applied this code in these units")
    cohen = fleiss = None
    if coders == 2:
        cohen, note = cohen_kappa(matrix[0], matrix[1])
        if note:
            notes.append(f"Cohen's kappa: {note}")
    else:
        complete = matrix[:, ~np.isnan(matrix).any(axis=0)]
        present = (complete == 1).sum(axis=0)
        table = np.stack([coders - present, present], axis=1)
        fleiss, note = fleiss_kappa(table)
        if note:
            notes.append(f"Fleiss' kappa: {note}")
    alpha, note = krippendorff_alpha(matrix)
    if note:
        notes.append(f"Krippendorff's alpha: {note}")
    return CodeAgreement(
        code_id=code_id,
        path=path,
        units=int(matrix.shape[1]),
        coded_units=coded,
        percent_agreement=percent_agreement(matrix),
        cohen_kappa=cohen,
        fleiss_kappa=fleiss,
        krippendorff_alpha=alpha,
        notes=notes,
    )


def default_coders(study: Study, documents: Sequence[Document], *, machines: bool = True) -> list:
    """Everyone with own codings in `documents`: people and, unless `machines` is false, the
    machine coders (a model's layer is measured like a person's)."""
    from django.contrib.auth import get_user_model

    codings = Coding.objects.filter(document__in=documents, consensus=False)
    if not machines:
        codings = codings.filter(coder__machine_coder__isnull=True)
    ids = codings.values_list("coder_id", flat=True).distinct()
    return list(get_user_model().objects.filter(pk__in=ids).order_by("username"))


def machine_labels(study: Study) -> dict[str, str]:
    """The machine coders' accounts of the study by username, with what each is
    (`MachineCoder.label`), so a table names a model for what it is."""
    from coding.models import MachineCoder

    return {
        m.user.get_username(): m.label
        for m in MachineCoder.objects.filter(study=study).select_related("user")
    }


def presence_matrices(
    documents: Sequence[Document], coders: Sequence, codes: Sequence[Code], unit: str
) -> tuple[np.ndarray, int]:
    """A (codes x coders x units) array over all documents: 1 where the coder applied the code
    in the unit, 0 where not, NaN where the coder has no judgement on the document."""
    import numpy as np

    code_index = {code.pk: i for i, code in enumerate(codes)}
    coder_index = {coder.pk: i for i, coder in enumerate(coders)}
    judged = set(
        Coding.objects.filter(document__in=documents, coder__in=coders, consensus=False)
        .values_list("document_id", "coder_id")
        .distinct()
    ) | set(
        Assignment.objects.filter(document__in=documents, coder__in=coders).values_list(
            "document_id", "coder_id"
        )
    )
    codings: dict[int, list[tuple[int, int, int, int]]] = {}
    for document_id, coder_id, code_id, start, end in Coding.objects.filter(
        document__in=documents, coder__in=coders, consensus=False, code_id__in=code_index
    ).values_list("document_id", "coder_id", "code_id", "start", "end"):
        codings.setdefault(document_id, []).append((coder_id, code_id, start, end))

    # Every document's units in one query, so the cost in queries does not grow with them.
    spans: dict[int, list[tuple[int, int]]] = {d.pk: [] for d in documents}
    if unit in ("sentence", "turn"):
        model = Sentence if unit == "sentence" else Turn
        for document_id, start, end in (
            model.objects.filter(document__in=documents)
            .order_by("document_id", "start")
            .values_list("document_id", "start", "end")
        ):
            spans[document_id].append((start, end))

    blocks = []
    for document in documents:
        if unit == "character":
            starts = np.arange(document.text_length)
            ends = starts + 1
        else:
            array = np.asarray(spans[document.pk], dtype=int).reshape(-1, 2)
            starts, ends = array[:, 0], array[:, 1]
        block = np.zeros((len(codes), len(coders), len(starts)))
        for coder in coders:
            if (document.pk, coder.pk) not in judged:
                block[:, coder_index[coder.pk], :] = np.nan
        for coder_id, code_id, start, end in codings.get(document.pk, ()):
            first = int(np.searchsorted(ends, start, side="right"))
            last = int(np.searchsorted(starts, end, side="left"))
            if first < last:
                block[code_index[code_id], coder_index[coder_id], first:last] = 1.0
        blocks.append(block)
    if not blocks:
        return np.zeros((len(codes), len(coders), 0)), 0
    array = np.concatenate(blocks, axis=2)
    return array, array.shape[2]


def compute_reliability(
    study: Study,
    *,
    unit: str = "sentence",
    coders: Sequence | None = None,
    documents: Sequence[Document] | None = None,
    machines: bool = True,
) -> ReliabilityReport:
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}: use one of {', '.join(UNITS)}")
    documents = list(
        documents
        if documents is not None
        else Document.objects.filter(study=study).order_by("title")
    )
    coders = list(
        coders if coders is not None else default_coders(study, documents, machines=machines)
    )
    if len(coders) < 2:
        names = ", ".join(c.get_username() for c in coders) or "none"
        raise ValueError(f"agreement needs two or more coders; found: {names}")
    all_codes = list(Code.objects.filter(study=study))
    paths = code_paths(all_codes)
    codes = sorted((c for c in all_codes if c.codable), key=lambda c: paths[c.pk])
    array, _units = presence_matrices(documents, coders, codes, unit)
    per_code = [
        measure(array[i], code_id=code.pk, path=paths[code.pk]) for i, code in enumerate(codes)
    ]
    # Pooled: every (unit, code) decision is one item.
    pooled = array.transpose(1, 0, 2).reshape(len(coders), -1)
    overall = measure(pooled, code_id=None, path="overall")
    return ReliabilityReport(
        unit=unit,
        coders=[c.get_username() for c in coders],
        documents=[d.pk for d in documents],
        overall=overall,
        codes=per_code,
    )


# --- Comparing two coders on one document -----------------------------------------------------


@dataclass
class UnitComparison:
    start: int
    end: int
    a: set[int]
    b: set[int]

    @property
    def differs(self) -> bool:
        return self.a != self.b


def compare_coders(
    document: Document,
    coder_a: object,
    coder_b: object,
    *,
    unit: str = "sentence",
    codes: set[int] | None = None,
) -> list[UnitComparison]:
    """Every unit of the document with the codes each coder applied in it."""
    spans = unit_spans(document, unit)
    units = SpanIndex((s, e, i) for i, (s, e) in enumerate(spans))
    rows = [UnitComparison(s, e, set(), set()) for s, e in spans]
    codings = Coding.objects.filter(
        document=document, coder__in=[coder_a, coder_b], consensus=False
    )
    if codes is not None:
        codings = codings.filter(code_id__in=codes)
    for coder_id, code_id, start, end in codings.values_list("coder_id", "code_id", "start", "end"):
        for i in units.overlapping(start, end):
            (rows[i].a if coder_id == coder_a.pk else rows[i].b).add(code_id)
    return rows
