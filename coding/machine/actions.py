"""What the Machine coding page and the API both do: train the learned engine on a layer, ask an
engine for suggestions, switch a study's LLM suggestions on or off, and read a machine coder's
metrics as rows. One place, so the page and the API answer the same way.

The engines are `coding.machine.learned` and `coding.machine.llm`; they are imported when used.
Everything an engine writes for one request is written in one transaction: a `MachineError`
leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from coding.machine import MachineError, current_machine_coders, learning_layer
from coding.models import Code, Coding, MachineCoder, code_paths
from studies import audit
from studies.models import AuditEvent, Document, Membership, Study

ENGINES = ("learned", "llm")
# The thresholds a precision/coverage table is read over when the metrics give none.
THRESHOLDS = (0.3, 0.5, 0.7, 0.9)


def layer_choices(study: Study) -> list[tuple[str, str]]:
    """The layers the learned engine may learn from: the consensus, or one person's codings."""
    User = get_user_model()
    people = (
        User.objects.filter(
            codings__document__study=study,
            codings__consensus=False,
            machine_coder__isnull=True,
        )
        .distinct()
        .order_by("username")
    )
    return [("consensus", "Consensus"), *((str(u.pk), u.get_username()) for u in people)]


def parse_layer(study: Study, value: object) -> str | int:
    """The layer to learn from: "consensus", or a person's user id or username; anything else
    is a MachineError naming it."""
    _name, person = learning_layer(study, value)
    if person is None:
        return "consensus"
    if not Coding.objects.filter(document__study=study, coder=person, consensus=False).exists():
        name = str(value).strip()
        raise MachineError(f"layer {name!r}: that person has no codings in this study")
    return person


def train_learned(study: Study, layer: str | int, *, user: object) -> MachineCoder:
    """A new version of the learned engine, trained and cross-validated on `layer`."""
    from coding.machine import learned

    # learned.train records the training (one event, with what it learned).
    return learned.train(study, layer, user=user)


def last_trained_layer(study: Study) -> str:
    """The layer the current learned engine was trained on, for "Retrain" (a form value)."""
    for machine in current_machine_coders(study):
        if machine.engine == "learned" and machine.trained_on:
            if machine.trained_on == "consensus":
                return "consensus"
            User = get_user_model()
            person = User.objects.filter(**{User.USERNAME_FIELD: machine.trained_on}).first()
            return str(person.pk) if person else machine.trained_on
    return ""


def documents_of(study: Study, ids: Sequence[object]) -> list[Document]:
    """The study's documents by id, every id checked: one that is not a document of the study
    is a MachineError naming it."""
    wanted: list[int] = []
    for value in ids:
        text = str(value).strip()
        if not text.isdigit() or len(text) > 18:
            raise MachineError(f"documents: {value!r} is not a document id")
        wanted.append(int(text))
    if not wanted:
        raise MachineError("documents: choose at least one document")
    found = {d.pk: d for d in Document.objects.filter(study=study, pk__in=wanted)}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise MachineError(f"documents: no such document in this study: {', '.join(missing)}")
    return [found[i] for i in dict.fromkeys(wanted)]


def uncoded_documents(study: Study, layer: str | int | None) -> set[int]:
    """The documents `layer` did not code: where suggestions are most needed."""
    codings = Coding.objects.filter(document__study=study)
    if layer == "consensus":
        codings = codings.consensus_layer()
    elif layer:
        codings = codings.filter(consensus=False, coder_id=layer)
    else:
        codings = codings.by_people()
    coded = set(codings.values_list("document_id", flat=True))
    return set(study.documents.exclude(pk__in=coded).values_list("pk", flat=True))


@dataclass
class SuggestRun:
    engine: str
    machine: str  # the label of the machine coder that suggested
    documents: int
    suggestions: int
    report: str = ""

    def as_json(self) -> dict:
        return {
            "engine": self.engine,
            "machine": self.machine,
            "documents": self.documents,
            "suggestions": self.suggestions,
            "report": self.report,
        }


def current(study: Study, engine: str) -> MachineCoder | None:
    return next((m for m in current_machine_coders(study) if m.engine == engine), None)


def suggest(
    study: Study,
    engine: str,
    documents: Sequence[Document],
    *,
    user: object,
    progress: Callable[..., None] | None = None,
) -> SuggestRun:
    """Ask `engine` for suggestions in `documents`, all of them written or none. `progress`
    (done, total, stage), a job's, hears how far the language model's calls have come."""
    if engine not in ENGINES:
        raise MachineError(f"engine {engine!r}: use learned or llm")
    if not documents:
        raise MachineError("documents: choose at least one document")
    report = ""
    if engine == "learned":
        from coding.machine import learned

        machine = current(study, "learned")
        if machine is None:
            raise MachineError("the learned engine is not trained yet: train it first")
        with transaction.atomic():
            learned.suggest(machine, list(documents))
    else:
        from coding.machine import llm

        reason = llm.llm_available(study)
        if reason:
            raise MachineError(reason)
        # Not inside a transaction: the run is all or nothing by itself (it writes only after
        # every call answered well), a failed call's audit event must stay, and no database
        # transaction should stay open while a model thinks.
        run = llm.suggest_llm(
            study,
            list(documents),
            user=user,
            progress=(
                (lambda done, total: progress(done, total, "Asking the language model"))
                if progress
                else None
            ),
        )
        report = run.report() if hasattr(run, "report") else ""
        machine = current(study, "llm")
        if machine is None:
            raise MachineError("the language model suggested nothing")
    count = Coding.objects.filter(
        document__in=documents, coder=machine.user, consensus=False
    ).count()
    # The engines record their runs and calls themselves (they also serve the command).
    return SuggestRun(engine, machine.label, len(documents), count, str(report or ""))


def set_llm_suggestions(study: Study, on: bool, *, user: object) -> None:
    """An owner's opt-in (or out) of LLM suggestions for the study, recorded in the audit trail."""
    if study.llm_suggestions == on:
        return
    study.llm_suggestions = on
    study.save(update_fields=["llm_suggestions"])
    audit.record(
        study,
        AuditEvent.Action.STUDY,
        "Turned LLM suggestions " + ("on" if on else "off"),
        user=user,
        details={"llm_suggestions": on},
    )


# --- Metrics as rows --------------------------------------------------------------------------


@dataclass
class CodeMetrics:
    code_id: int
    path: str
    kappa: float | None
    change: float | None  # from the previous version of the same engine and model
    positives: int | None
    # (threshold, precision, coverage) per threshold
    curve: list[tuple[float, float | None, float | None]] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "code": self.code_id,
            "path": self.path,
            "kappa": self.kappa,
            "change": self.change,
            "positives": self.positives,
            "thresholds": [
                {"threshold": t, "precision": p, "coverage": c} for t, p, c in self.curve
            ],
        }


def _per_code(metrics: object) -> dict[int, dict]:
    """The metrics' per-code entries by code id, whether under "codes" or at the top."""
    if not isinstance(metrics, dict):
        return {}
    source = metrics.get("codes", metrics.get("per_code", metrics))
    rows: dict[int, dict] = {}
    if isinstance(source, list):
        source = {str(item.get("code")): item for item in source if isinstance(item, dict)}
    if not isinstance(source, dict):
        return {}
    for key, value in source.items():
        if str(key).isdigit() and isinstance(value, dict):
            rows[int(key)] = value
    return rows


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _curve(entry: dict) -> list[tuple[float, float | None, float | None]]:
    raw = next(
        (
            entry[k]
            for k in ("thresholds", "curve", "precision_coverage", "by_threshold")
            if k in entry
        ),
        None,
    )
    points: list[tuple[float, float | None, float | None]] = []
    if isinstance(raw, dict):
        raw = [{"threshold": k, **v} for k, v in raw.items() if isinstance(v, dict)]
    for item in raw or []:
        if isinstance(item, dict):
            try:
                threshold = float(item.get("threshold"))
            except (TypeError, ValueError):
                continue
            points.append(
                (threshold, _number(item.get("precision")), _number(item.get("coverage")))
            )
        elif isinstance(item, (list, tuple)) and len(item) >= 3:
            points.append((float(item[0]), _number(item[1]), _number(item[2])))
    return sorted(points)


def previous_version(machine: MachineCoder) -> MachineCoder | None:
    return (
        MachineCoder.objects.filter(
            study_id=machine.study_id,
            engine=machine.engine,
            model_name=machine.model_name,
            version__lt=machine.version,
        )
        .order_by("-version")
        .first()
    )


def metric_rows(machine: MachineCoder) -> list[CodeMetrics]:
    """Per code: the cross-validated kappa, its change from the previous version, the training
    layer's positives and precision/coverage over thresholds."""
    entries = _per_code(machine.metrics)
    if not entries:
        return []
    before_machine = previous_version(machine)
    before = _per_code(before_machine.metrics) if before_machine else {}
    codes = list(Code.objects.filter(study_id=machine.study_id))
    paths = code_paths(codes)
    rows = []
    for code_id, entry in entries.items():
        if code_id not in paths:
            continue
        kappa = _number(entry.get("kappa"))
        # The engine's own word on the version before (it may compare like with like:
        # the same layer); else the previous version's kappa.
        if "previous_kappa" in entry:
            previous = _number(entry.get("previous_kappa"))
        else:
            previous = _number(before.get(code_id, {}).get("kappa"))
        positives = entry.get("positives")
        rows.append(
            CodeMetrics(
                code_id,
                paths[code_id],
                kappa,
                None if kappa is None or previous is None else kappa - previous,
                positives if isinstance(positives, int) else None,
                _curve(entry),
            )
        )
    return sorted(rows, key=lambda r: r.path.lower())


def machine_json(machine: MachineCoder) -> dict:
    return {
        "id": machine.pk,
        "label": machine.label,
        "engine": machine.engine,
        "model_name": machine.model_name,
        "version": machine.version,
        "trained_on": machine.trained_on,
        "username": machine.user.get_username(),
        "created_at": machine.created_at.isoformat(),
        "codes": [row.as_json() for row in metric_rows(machine)],
        "metrics": machine.metrics,
    }


def may_run(study: Study) -> bool:
    """Owners train, switch the LLM on and ask for suggestions (they write a study-wide layer)."""
    return study.user_role == Membership.Role.OWNER
