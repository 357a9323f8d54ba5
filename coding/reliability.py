"""Inter-coder reliability: percent agreement, Cohen's kappa, Fleiss' kappa and Krippendorff's
alpha, per code and pooled, over sentences, speaker turns or characters.

A code is present in a unit for a coder when any of that coder's codings of it (the coder layer,
not the consensus) overlaps the unit. Every unit of the documents in scope counts, coded or not,
facilitator turns included. A coder who neither coded nor was assigned a document has no
judgement there: their units in it are missing data, which only Krippendorff's alpha admits;
percent agreement and the kappas use the units every compared coder judged.

Values are unrounded. A measure that is undefined for the data (a code nobody applied, every
judgement in one category) is None with a note saying why, never a made-up 1.0 or 0.

Agreement is computed one document and one code at a time, each kept as its distinct columns
(`Columns`), so a study of a hundred thousand sentences and fifty codes needs megabytes, not a
gigabyte. numpy is imported by the functions that compute: the pages, the API and the commands
that import this module for UNITS or machine_labels start without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Q, Sum

from coding.models import AgreementRound, Assignment, Code, Coding, code_paths
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


class Columns:
    """A reliability matrix kept as its distinct columns and how many units have each: `values`
    (coders x k, NaN where missing) and `counts` (k). Every measure below is a sum over units,
    so it is the same on the distinct columns weighted by their counts as on the whole matrix;
    and a study's pooled presence data (every unit and code, millions of decisions) has only a
    few dozen distinct columns, so agreement over a large study costs little memory."""

    def __init__(self, values: np.ndarray, counts: np.ndarray) -> None:
        self.values = values
        self.counts = counts

    @classmethod
    def of(cls, matrix: object) -> Columns:
        import numpy as np

        matrix = np.asarray(matrix, dtype=float)
        if matrix.ndim != 2:
            raise ValueError("a reliability matrix has one row per coder and one column per unit")
        return cls._distinct(matrix, np.ones(matrix.shape[1], dtype=np.int64))

    @classmethod
    def joined(cls, parts: Sequence[Columns]) -> Columns:
        """The columns of several matrices side by side (the same coders): pooling."""
        import numpy as np

        values = np.concatenate([part.values for part in parts], axis=1)
        return cls._distinct(values, np.concatenate([part.counts for part in parts]))

    @classmethod
    def _distinct(cls, matrix: np.ndarray, counts: np.ndarray) -> Columns:
        import numpy as np

        if matrix.shape[1] == 0:
            return cls(matrix, counts)
        judged = ~np.isnan(matrix)
        categories = np.unique(matrix[judged])
        base = categories.size + 1
        if base ** matrix.shape[0] < 2**62:
            # Each column as one integer, its cells as digits in base (categories + 1), with 0
            # for missing: sorting integers is far faster than sorting columns.
            digits = np.zeros(matrix.shape, dtype=np.int64)
            digits[judged] = np.searchsorted(categories, matrix[judged]) + 1
            places = np.array([base**row for row in range(matrix.shape[0])], dtype=np.int64)
            keys = (digits * places[:, None]).sum(axis=0)
            _keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            values = matrix[:, first]
        else:
            # NaN never equals itself, so missing cells are keyed as infinity (not a category).
            keyed = np.where(judged, matrix, np.inf)
            values, inverse = np.unique(keyed, axis=1, return_inverse=True)
            values = np.where(np.isinf(values), np.nan, values)
        weights = np.bincount(inverse.reshape(-1), weights=counts, minlength=values.shape[1])
        return cls(values, weights.astype(np.int64))

    @property
    def coders(self) -> int:
        return int(self.values.shape[0])

    @property
    def units(self) -> int:
        return int(self.counts.sum())

    def _complete(self) -> tuple[np.ndarray, np.ndarray]:
        """The columns every coder judged, and their counts."""
        import numpy as np

        keep = ~np.isnan(self.values).any(axis=0)
        return self.values[:, keep], self.counts[keep]

    def percent_agreement(self) -> float | None:
        """The share of units, among those every coder judged, on which all coders agree."""
        values, counts = self._complete()
        if counts.sum() == 0:
            return None
        agree = (values == values[0]).all(axis=0)
        return float(counts[agree].sum() / counts.sum())

    def cohen_kappa(self) -> tuple[float | None, str]:
        """Cohen's kappa of two coders over the units both judged: (po - pe) / (1 - pe)."""
        import numpy as np

        if self.coders != 2:
            raise ValueError("Cohen's kappa compares exactly two coders")
        a, b = self.values
        both = ~(np.isnan(a) | np.isnan(b))
        a, b, counts = a[both], b[both], self.counts[both]
        total = counts.sum()
        if total == 0:
            return None, "the coders judged no unit in common"
        observed = float(counts[a == b].sum() / total)
        expected = float(
            sum(
                (counts[a == c].sum() / total) * (counts[b == c].sum() / total)
                for c in np.union1d(a, b)
            )
        )
        if expected >= 1.0:
            return None, "undefined: both coders put every unit in the same category"
        return (observed - expected) / (1.0 - expected), ""

    def fleiss_kappa(self) -> tuple[float | None, str]:
        """Fleiss' kappa (Fleiss 1971) over the units every coder judged."""
        import numpy as np

        values, counts = self._complete()
        if counts.sum() == 0:
            return None, "no unit was judged by every coder"
        n = self.coders
        if n < 2:
            return None, "Fleiss' kappa needs two or more coders on every unit"
        # Per distinct column: how many coders put the unit in each category.
        table = (values[:, :, None] == np.unique(values)[None, None, :]).sum(axis=0)
        p_category = (counts[:, None] * table).sum(axis=0) / (counts.sum() * n)
        p_unit = ((table * table).sum(axis=1) - n) / (n * (n - 1))
        observed = float((counts * p_unit).sum() / counts.sum())
        expected = float((p_category * p_category).sum())
        if expected >= 1.0:
            return None, "undefined: every judgement is in the same category"
        return (observed - expected) / (1.0 - expected), ""

    def krippendorff_alpha(self) -> tuple[float | None, str]:
        """Krippendorff's alpha (nominal) with missing data, from the coincidence matrix
        (Krippendorff 2004, ch. 11; the tests check it against the krippendorff package)."""
        import numpy as np

        judged = ~np.isnan(self.values)
        pairable = judged.sum(axis=0) >= 2
        values, counts = self.values[:, pairable], self.counts[pairable]
        if counts.sum() == 0:
            return None, "no unit was judged by two or more coders"
        categories = np.unique(values[~np.isnan(values)])
        if categories.size < 2:
            return None, "undefined: every judgement is in the same category"
        # n_cu: how many coders put unit u in category c; m_u: how many judged it.
        per_unit = (values[:, :, None] == categories[None, None, :]).sum(axis=0)
        m = per_unit.sum(axis=1)
        weight = counts / (m - 1)
        # o_ck = sum over units of (n_cu n_ku - [c = k] n_cu) / (m_u - 1)
        coincidences = np.einsum("u,uc,uk->ck", weight, per_unit, per_unit) - np.diag(
            weight @ per_unit
        )
        n_c = coincidences.sum(axis=1)
        n = n_c.sum()
        expected = n * n - (n_c * n_c).sum()
        if expected <= 0:
            return None, "undefined for these data"
        disagreement = n - np.trace(coincidences)
        return float(1.0 - (n - 1) * disagreement / expected), ""


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
        data = {name: getattr(self, name) for name in MEASURE_FIELDS}
        return data if self.code_id is None else {"code": self.path, **data}

    @classmethod
    def from_json(cls, data: dict, *, code_id: int | None) -> CodeAgreement:
        return cls(
            code_id=code_id,
            path=data.get("code", "overall"),
            **{name: data[name] for name in MEASURE_FIELDS},
        )


MEASURE_FIELDS = (
    "units",
    "coded_units",
    "percent_agreement",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "notes",
)


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

    def stored(self) -> dict:
        """The report as a job keeps it: its JSON and the codes' ids."""
        return {**self.as_json(), "code_ids": [code.code_id for code in self.codes]}

    @classmethod
    def from_stored(cls, data: dict) -> ReliabilityReport:
        return cls(
            unit=data["unit"],
            coders=data["coders"],
            documents=data["documents"],
            overall=CodeAgreement.from_json(data["overall"], code_id=None),
            codes=[
                CodeAgreement.from_json(row, code_id=code_id)
                for row, code_id in zip(data["codes"], data["code_ids"], strict=True)
            ],
        )


def measure(columns: Columns, *, code_id: int | None, path: str) -> CodeAgreement:
    """Every measure for one binary presence matrix (coders x units; 1, 0 or NaN)."""
    import numpy as np

    notes: list[str] = []
    present = (np.nan_to_num(columns.values, nan=0.0) > 0).any(axis=0)
    coded = int(columns.counts[present].sum())
    if coded == 0:
        notes.append("no coder applied this code in these units")
    cohen = fleiss = None
    if columns.coders == 2:
        cohen, note = columns.cohen_kappa()
        if note:
            notes.append(f"Cohen's kappa: {note}")
    else:
        fleiss, note = columns.fleiss_kappa()
        if note:
            notes.append(f"Fleiss' kappa: {note}")
    alpha, note = columns.krippendorff_alpha()
    if note:
        notes.append(f"Krippendorff's alpha: {note}")
    return CodeAgreement(
        code_id=code_id,
        path=path,
        units=columns.units,
        coded_units=coded,
        percent_agreement=columns.percent_agreement(),
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


def presence_blocks(
    documents: Sequence[Document], coders: Sequence, codes: Sequence[Code], unit: str
) -> Iterator[np.ndarray]:
    """Per document, a (codes x coders x units) array: 1 where the coder applied the code in
    the unit, 0 where not, NaN where the coder has no judgement on the document. One document
    at a time, so memory follows the longest document, not the study."""
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

    for document in documents:
        if unit == "character":
            starts = np.arange(document.text_length)
            ends = starts + 1
        else:
            array = np.asarray(spans[document.pk], dtype=int).reshape(-1, 2)
            starts, ends = array[:, 0], array[:, 1]
        block = np.zeros((len(codes), len(coders), len(starts)), dtype=np.float32)
        for coder in coders:
            if (document.pk, coder.pk) not in judged:
                block[:, coder_index[coder.pk], :] = np.nan
        for coder_id, code_id, start, end in codings.get(document.pk, ()):
            first = int(np.searchsorted(ends, start, side="right"))
            last = int(np.searchsorted(starts, end, side="left"))
            if first < last:
                block[code_index[code_id], coder_index[coder_id], first:last] = 1.0
        yield block


def compute_reliability(
    study: Study,
    *,
    unit: str = "sentence",
    coders: Sequence | None = None,
    documents: Sequence[Document] | None = None,
    machines: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> ReliabilityReport:
    """Agreement of `coders` (default: everyone with codings there) over `documents` (default:
    the study's). `progress(done, total, stage)` hears of each document read (a job's)."""
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
    import numpy as np

    # Each code's matrix over all documents, kept as distinct columns document by document.
    parts: list[list[Columns]] = [[Columns.of(np.zeros((len(coders), 0)))] for _ in codes]
    for n, block in enumerate(presence_blocks(documents, coders, codes, unit), start=1):
        for i, part in enumerate(parts):
            part.append(Columns.of(block[i]))
        if progress is not None:
            progress(n, len(documents), "Reading the documents' codings")
    columns = [Columns.joined(part) for part in parts]
    per_code = [
        measure(columns[i], code_id=code.pk, path=paths[code.pk]) for i, code in enumerate(codes)
    ]
    # Pooled: every (unit, code) decision is one item.
    pooled = Columns.joined([Columns.of(np.zeros((len(coders), 0))), *columns])
    overall = measure(pooled, code_id=None, path="overall")
    return ReliabilityReport(
        unit=unit,
        coders=[c.get_username() for c in coders],
        documents=[d.pk for d in documents],
        overall=overall,
        codes=per_code,
    )


# --- What is compared, as a page, the API or a job asks for it -------------------------------


def study_coders(study: Study) -> list:
    """Everyone who can code in the study or has coder-layer codings in it (a former member's
    codings still count for agreement), by username."""
    from django.contrib.auth import get_user_model

    from studies.models import Membership

    roles = [Membership.Role.CODER, Membership.Role.OWNER]
    return list(
        get_user_model()
        .objects.filter(
            Q(memberships__study=study, memberships__role__in=roles)
            | Q(codings__document__study=study, codings__consensus=False)
        )
        .distinct()
        .order_by("username")
    )


class ScopeError(ValueError):
    """A scope that names something the study does not have (a round deleted since)."""


@dataclass
class Scope:
    """What a reliability table compares: the unit, an agreement round's documents and coders
    or the whole study, the coders asked for by name (none: everyone who coded), and whether
    machine coders are measured beside the people."""

    unit: str = "sentence"
    agreement_round: AgreementRound | None = None
    wanted: list[str] = field(default_factory=list)
    machines: bool = True
    candidates: list = field(default_factory=list)
    coders: list | None = None
    documents: list[Document] | None = None

    @classmethod
    def of(
        cls,
        study: Study,
        *,
        unit: str = "",
        round_id: object = None,
        wanted: Sequence[str] = (),
        machines: bool = True,
    ) -> Scope:
        agreement_round = None
        if round_id not in (None, ""):
            if not str(round_id).isdigit():
                raise ScopeError("No such round.")
            agreement_round = AgreementRound.objects.filter(study=study, pk=round_id).first()
            if agreement_round is None:
                raise ScopeError("No such round in this study.")
        unit = unit or (agreement_round.unit if agreement_round else "sentence")
        if unit not in UNITS:
            unit = "sentence"
        scope = cls(
            unit=unit,
            agreement_round=agreement_round,
            wanted=[name for name in wanted if name],
            machines=machines,
            candidates=study_coders(study),
        )
        if agreement_round is not None:
            scope.documents = list(agreement_round.documents.order_by("title"))
            scope.coders = list(agreement_round.coders.order_by("username"))
        if scope.wanted:
            asked = set(scope.wanted)
            scope.coders = [c for c in scope.candidates if c.get_username() in asked]
        elif scope.coders is not None and not machines:
            labels = machine_labels(study)
            scope.coders = [c for c in scope.coders if c.get_username() not in labels]
        return scope

    def params(self) -> dict:
        """The scope as a job keeps it (JSON), to be read again with `Scope.of`."""
        return {
            "unit": self.unit,
            "round": self.agreement_round.pk if self.agreement_round else None,
            "coders": self.wanted,
            "machines": self.machines,
        }

    @classmethod
    def from_params(cls, study: Study, params: dict) -> Scope:
        return cls.of(
            study,
            unit=params.get("unit", ""),
            round_id=params.get("round"),
            wanted=params.get("coders") or [],
            machines=params.get("machines", True),
        )

    def compute(
        self, study: Study, progress: Callable[[int, int, str], None] | None = None
    ) -> ReliabilityReport:
        return compute_reliability(
            study,
            unit=self.unit,
            coders=self.coders,
            documents=self.documents,
            machines=self.machines,
            progress=progress,
        )

    def decisions(self, study: Study) -> int:
        """How many (unit, code, coder) judgements the table weighs: what its time and memory
        follow. Counted with two queries, without reading any coding."""
        documents = Document.objects.filter(study=study)
        if self.documents is not None:
            documents = documents.filter(pk__in=[d.pk for d in self.documents])
        if self.unit == "character":
            units = documents.aggregate(n=Sum("text_length"))["n"] or 0
        else:
            model = Sentence if self.unit == "sentence" else Turn
            units = model.objects.filter(document__in=documents).count()
        coders = len(self.coders) if self.coders is not None else len(self.candidates)
        codes = Code.objects.filter(study=study, codable=True).count()
        return units * codes * coders

    def job_size(self, study: Study) -> int:
        """The table's judgements when there are too many to compute in a page's request
        (more than COLLOQUY_RELIABILITY_INLINE_DECISIONS: the page offers a job), else 0."""
        decisions = self.decisions(study)
        return decisions if decisions > settings.COLLOQUY_RELIABILITY_INLINE_DECISIONS else 0


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
