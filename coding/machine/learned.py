"""The learned engine: codes suggested by classifiers trained on a layer of the study itself.

Nothing is downloaded: the model learns from the study's own sentences, so it works in any
language the study is written in. The unit is the sentence (`studies.models.Sentence`): a code
is present in a sentence of the training layer when any of the layer's codings of it overlaps
the sentence (`studies.spans.SpanIndex`, the rule every part of Colloquy finds spans with).

The model is one binary classifier per codable code with at least `MIN_POSITIVES` positive
sentences: TF-IDF word 1-2-grams and character 2-5-grams within words (sublinear tf), and a
logistic regression with balanced class weights and a fixed seed, so that the same data train
the same model (`pipeline`). The TF-IDF features do not look at the labels, so every code shares
one fitted feature union; a code's model is exactly `pipeline()` fitted on that code's labels.

Before its suggestions are offered, the engine is measured like a coder: `cross_validate`
predicts every sentence from a model that never saw its document (folds by document) and
compares the predictions with the layer (Cohen's kappa per code, and precision and coverage
over confidence thresholds). `train` stores that with the fitted model as a new version of the
machine coder; `suggest` writes its suggestions as the machine's own layer.
"""

from __future__ import annotations

import math
import pickle
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import sklearn
from django.db import transaction
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import FeatureUnion, Pipeline

from coding.machine import (
    MachineError,
    Suggested,
    learning_layer,
    new_machine_coder,
    write_suggestions,
)
from coding.models import (
    Code,
    Coding,
    MachineCoder,
    SuggestionDecision,
    TrainingExample,
    code_paths,
)
from studies.audit import record
from studies.models import AuditEvent, Document, Sentence, Study
from studies.spans import SpanIndex

ENGINE = MachineCoder.Engine.LEARNED
MODEL_NAME = "tfidf-logreg"
MIN_POSITIVES = 3  # a code with fewer positive sentences is not learned
FOLDS = 5
THRESHOLD = 0.5  # the confidence at which a sentence counts as predicted (kappa) and suggested
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)  # the precision/coverage table
SEED = 0
ARTEFACT_FORMAT = 1


# --- The model -------------------------------------------------------------------------------


def features() -> FeatureUnion:
    """The sentence features: TF-IDF of word 1-2-grams and of character 2-5-grams inside word
    boundaries (which carries across inflections and languages), both with sublinear tf."""
    return FeatureUnion(
        [
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ]
    )


def classifier() -> LogisticRegression:
    """One code's classifier: deterministic (liblinear with a fixed seed), classes balanced,
    since most sentences lack any given code."""
    return LogisticRegression(solver="liblinear", class_weight="balanced", random_state=SEED)


def pipeline() -> Pipeline:
    """The model of one code, as scikit-learn would build it on its own: what `cross_validate`
    and `train` compute, sharing the features between codes to save time."""
    return Pipeline([("features", features()), ("classifier", classifier())])


# --- Training data ---------------------------------------------------------------------------


@dataclass
class TrainingData:
    """The sentences of the documents a layer judged and the codes present in each.

    `labels[code_id][i]` is 1 when the code is present in sentence i (after the coders'
    steering), 0 when not; `groups[i]` is sentence i's document id."""

    study: Study
    layer: str
    codes: list[Code]
    paths: dict[int, str]
    documents: list[int]
    spans: list[tuple[int, int, int]]  # (document id, start, end) per sentence
    texts: list[str]
    groups: np.ndarray
    labels: dict[int, np.ndarray]
    steered: dict[str, int] = field(default_factory=dict)

    def positives(self, code_id: int) -> int:
        return int(self.labels[code_id].sum())

    def learnable(self, code_id: int) -> bool:
        positives = self.positives(code_id)
        return positives >= MIN_POSITIVES and positives < len(self.texts)


def layer_codings(study: Study, layer: str | int) -> tuple[str, object]:
    """(the layer's name, its codings in `study`) for "consensus", a coder's username or user
    id. A machine's own layer is refused: a model learns from people."""
    codings = Coding.objects.filter(document__study=study)
    name, person = learning_layer(study, layer)
    return name, codings.layer("consensus" if person is None else person)


def training_data(study: Study, layer: str | int) -> TrainingData:
    """Every sentence of the documents the layer judged, with the codes present in each.

    A document counts as judged when the layer has at least one coding in it: its uncoded
    sentences are then negatives for every code; the documents the layer never coded are left
    out (nobody said what is not in them). On top of the layer, the coders' steering in those
    documents, in the order it was given (a later word wins): a training example marks a code
    present ("more like this") or absent ("not this") in the sentences it overlaps, and a
    suggestion of a machine that someone rejected marks its code absent there. `layer` is
    "consensus" or a coder's username. Raises MachineError when the layer coded nothing."""
    name, codings = layer_codings(study, layer)
    codes = list(Code.objects.filter(study=study).order_by("pk"))
    paths = code_paths(codes)
    codable = [code for code in codes if code.codable]
    coded = list(codings.values_list("document_id", "code_id", "start", "end"))
    documents = sorted({row[0] for row in coded})
    if not documents:
        raise MachineError(
            f"the {name} layer has no codings in {study.slug}: code some documents first"
            + (" or choose a coder's layer" if name == "consensus" else "")
        )
    texts_of = dict(Document.objects.filter(pk__in=documents).values_list("pk", "text"))
    spans: list[tuple[int, int, int]] = list(
        Sentence.objects.filter(document_id__in=documents)
        .order_by("document_id", "seq")
        .values_list("document_id", "start", "end")
    )
    index: dict[int, list[tuple[int, int, int]]] = {}
    for i, (document_id, start, end) in enumerate(spans):
        index.setdefault(document_id, []).append((start, end, i))
    indexes = {document_id: SpanIndex(rows) for document_id, rows in index.items()}
    texts = [texts_of[document_id][start:end] for document_id, start, end in spans]
    labels = {code.pk: np.zeros(len(spans), dtype=int) for code in codable}

    def mark(document_id: int, code_id: int, start: int, end: int, value: int) -> int:
        if code_id not in labels or document_id not in indexes:
            return 0
        hits = indexes[document_id].overlapping(start, end)
        labels[code_id][hits] = value
        return len(hits)

    for document_id, code_id, start, end in coded:
        mark(document_id, code_id, start, end, 1)

    steering: list[tuple[object, int, int, int, int, int]] = [
        (created, document_id, code_id, start, end, int(positive))
        for created, document_id, code_id, start, end, positive in TrainingExample.objects.filter(
            study=study, document_id__in=documents
        ).values_list("created_at", "document_id", "code_id", "start", "end", "positive")
    ]
    suggested = set(
        Coding.objects.machine_layer()
        .filter(document_id__in=documents)
        .values_list("document_id", "code_id", "start", "end")
    )
    steering += [
        (created, document_id, code_id, start, end, 0)
        for created, document_id, code_id, start, end in SuggestionDecision.objects.filter(
            document_id__in=documents, verdict=SuggestionDecision.Verdict.REJECTED
        ).values_list("created_at", "document_id", "code_id", "start", "end")
        if (document_id, code_id, start, end) in suggested
    ]
    steering.sort(key=lambda row: row[0])
    steered = {"positive": 0, "negative": 0}
    for _created, document_id, code_id, start, end, value in steering:
        if mark(document_id, code_id, start, end, value):
            steered["positive" if value else "negative"] += 1
    return TrainingData(
        study=study,
        layer=name,
        codes=codable,
        paths=paths,
        documents=documents,
        spans=spans,
        texts=texts,
        groups=np.asarray([span[0] for span in spans], dtype=int),
        labels=labels,
        steered=steered,
    )


# --- Cross-validation ------------------------------------------------------------------------


def fold_splits(data: TrainingData, folds: int = FOLDS) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training indices, held-out indices) per fold, folds by document (GroupKFold), so a
    transcript never helps predict itself: k = min(folds, judged documents), at least 2."""
    if len(data.documents) < 2:
        raise MachineError(
            f"the {data.layer} layer judged {len(data.documents)} document; cross-validation "
            "by document needs at least 2: code another document first"
        )
    k = max(2, min(folds, len(data.documents)))
    return list(GroupKFold(n_splits=k).split(data.texts, groups=data.groups))


def _kappa(truth: np.ndarray, predicted: np.ndarray) -> float | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = cohen_kappa_score(truth, predicted)
    return None if value is None or math.isnan(value) else float(value)


def _precision_coverage(truth: np.ndarray, probability: np.ndarray) -> list[dict]:
    positives = int(truth.sum())
    rows = []
    for threshold in THRESHOLDS:
        chosen = probability >= threshold
        suggested = int(chosen.sum())
        found = int((chosen & (truth == 1)).sum())
        rows.append(
            {
                "threshold": threshold,
                "suggested": suggested,
                "correct": found,
                "precision": found / suggested if suggested else None,
                "coverage": found / positives if positives else None,
            }
        )
    return rows


def out_of_fold(data: TrainingData, splits: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Each learnable code's probability for every sentence, from the model of the fold that
    held the sentence's document out. A fold whose training part lacks a class predicts that
    class's constant (0 or 1) for its held-out sentences."""
    learnable = [code.pk for code in data.codes if data.learnable(code.pk)]
    probability = {code_id: np.zeros(len(data.texts)) for code_id in learnable}
    texts = np.asarray(data.texts, dtype=object)
    for train_index, test_index in splits:
        union = features()
        train_x = union.fit_transform(texts[train_index])
        test_x = union.transform(texts[test_index])
        for code_id in learnable:
            y = data.labels[code_id][train_index]
            if y.min() == y.max():
                probability[code_id][test_index] = float(y[0])
                continue
            model = classifier().fit(train_x, y)
            probability[code_id][test_index] = model.predict_proba(test_x)[:, 1]
    return probability


def _evaluate(data: TrainingData, folds: int) -> dict:
    started = time.perf_counter()
    splits = fold_splits(data, folds)
    probability = out_of_fold(data, splits)
    rows = []
    for code in sorted(data.codes, key=lambda c: data.paths[c.pk]):
        truth = data.labels[code.pk]
        positives = int(truth.sum())
        row: dict = {"code": code.pk, "path": data.paths[code.pk], "positives": positives}
        if code.pk not in probability:
            row.update(learned=False, note=f"not learned ({positives} examples)")
        else:
            predicted = (probability[code.pk] >= THRESHOLD).astype(int)
            kappa = _kappa(truth, predicted)
            row.update(
                learned=True,
                kappa=kappa,
                note="" if kappa is not None else "kappa undefined for these data",
                predicted=int(predicted.sum()),
                precision_coverage=_precision_coverage(truth, probability[code.pk]),
            )
        rows.append(row)
    kappas = [row["kappa"] for row in rows if row.get("kappa") is not None]
    return {
        "layer": data.layer,
        "unit": "sentence",
        "documents": len(data.documents),
        "sentences": len(data.texts),
        "k": len(splits),
        "folds": [sorted({int(data.groups[i]) for i in held_out}) for _, held_out in splits],
        "threshold": THRESHOLD,
        "thresholds": list(THRESHOLDS),
        "min_positives": MIN_POSITIVES,
        "steered": dict(data.steered),
        "codes": rows,
        "learned": sum(1 for row in rows if row["learned"]),
        "mean_kappa": sum(kappas) / len(kappas) if kappas else None,
        "seconds": {"cross_validation": time.perf_counter() - started},
    }


def cross_validate(study: Study, layer: str | int, folds: int = FOLDS) -> dict:
    """How well the engine would agree with `layer`, measured before any suggestion is shown.

    Folds by document (GroupKFold, k = min(folds, judged documents), at least 2; fewer than 2
    judged documents raise MachineError). Returns a JSON-ready dict, what `train` stores as
    MachineCoder.metrics: "layer", "documents", "sentences", "k", "folds" (the document ids
    held out in each fold), "threshold" (0.5), "thresholds", "mean_kappa", "steered" (steering
    counts) and "codes", one row per codable code sorted by path: "code" (id), "path",
    "positives" (the layer's sentences with it), "learned"; a learned code adds "kappa"
    (Cohen's, layer vs. out-of-fold predictions at 0.5; None when undefined, with "note"),
    "predicted" and "precision_coverage" (per threshold: "suggested" sentences at or above it,
    "correct", "precision", "coverage" = share of the layer's positive sentences found); a code
    with too few positives has note "not learned (n examples)"."""
    return _evaluate(training_data(study, layer), folds)


# --- Training and suggesting -----------------------------------------------------------------


def _previous(study: Study, layer: str) -> MachineCoder | None:
    return (
        MachineCoder.objects.filter(
            study=study, engine=ENGINE, model_name=MODEL_NAME, trained_on=layer
        )
        .order_by("-version")
        .first()
    )


def train(
    study: Study, layer: str | int, user: object = None, *, folds: int = FOLDS
) -> MachineCoder:
    """Cross-validate on `layer`, fit on all of it, and return the new version of the learned
    machine coder (engine "learned", model "tfidf-logreg", trained_on the layer's name).

    Its `metrics` are `cross_validate`'s, plus "previous" ({"version", "kappas": {code id:
    kappa}} of the last version trained on the same layer, or None), each code row's
    "previous_kappa", and the seconds taken. Its `artefact` is a pickle of the fitted feature
    union and per-code classifiers: our own objects, written only by this module from the
    study's own data and read only by `suggest`; never load an artefact from elsewhere.
    Records an audit event. Raises MachineError when the layer cannot be learned from."""
    started = time.perf_counter()
    data = training_data(study, layer)
    metrics = _evaluate(data, folds)
    fitting = time.perf_counter()
    union = features()
    x = union.fit_transform(data.texts)
    models = {}
    for code in data.codes:
        if data.learnable(code.pk):
            models[code.pk] = classifier().fit(x, data.labels[code.pk])
    if not models:
        raise MachineError(
            f"no code has {MIN_POSITIVES} or more coded sentences in the {data.layer} layer: "
            "code more before training"
        )
    artefact = pickle.dumps(
        {
            "format": ARTEFACT_FORMAT,
            "sklearn": sklearn.__version__,
            "features": union,
            "classifiers": models,
        },
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    previous = _previous(study, data.layer)
    before = {}
    if previous is not None:
        before = {str(row["code"]): row.get("kappa") for row in previous.metrics.get("codes", ())}
    for row in metrics["codes"]:
        row["previous_kappa"] = before.get(str(row["code"]))
    metrics["previous"] = (
        {
            "version": previous.version,
            "mean_kappa": previous.metrics.get("mean_kappa"),
            "kappas": before,
        }
        if previous is not None
        else None
    )
    metrics["seconds"]["fitting"] = time.perf_counter() - fitting
    metrics["seconds"]["training"] = time.perf_counter() - started
    with transaction.atomic():
        machine = new_machine_coder(
            study,
            ENGINE,
            MODEL_NAME,
            trained_on=data.layer,
            options={"threshold": THRESHOLD, "min_positives": MIN_POSITIVES, "folds": folds},
            user=user,
        )
        machine.metrics = metrics
        machine.artefact = artefact
        machine.save(update_fields=["metrics", "artefact"])
        mean = metrics["mean_kappa"]
        record(
            study,
            AuditEvent.Action.MODEL,
            f"Trained {machine.label} on {len(data.texts):,} sentences of "
            f"{len(data.documents)} documents: {len(models)} codes learned"
            + (f", mean cross-validated kappa {mean:.2f}" if mean is not None else ""),
            user=user,
            details={"machine": machine.pk, "version": machine.version, "layer": data.layer},
        )
    return machine


def load(machine: MachineCoder) -> dict:
    """The fitted model of a learned machine coder (see `train` on where it comes from)."""
    if machine.engine != ENGINE or machine.artefact is None:
        raise MachineError(f"{machine.label} has no trained model: train first")
    model = pickle.loads(bytes(machine.artefact))  # noqa: S301 (written by `train` only)
    if model.get("format") != ARTEFACT_FORMAT:
        raise MachineError(f"{machine.label} was saved in an older format: train again")
    return model


def predict(model: dict, texts: Sequence[str]) -> dict[int, np.ndarray]:
    """Each code's probability for each text: all texts vectorised at once."""
    if not texts:
        return {code_id: np.zeros(0) for code_id in model["classifiers"]}
    x = model["features"].transform(list(texts))
    return {
        code_id: classifier.predict_proba(x)[:, 1]
        for code_id, classifier in model["classifiers"].items()
    }


def suggest(
    machine: MachineCoder, documents: Sequence[Document], threshold: float = THRESHOLD
) -> int:
    """Write `machine`'s suggestions for `documents` as its own layer (replacing what it had
    suggested there): every sentence whose probability for a code is at least `threshold`,
    coded over the whole sentence with that probability as its confidence. Codes deleted or
    made uncodable since training are skipped. Returns how many suggestions were written.
    Raises MachineError for a machine without a model or a document of another study."""
    if not 0 <= threshold <= 1:
        raise MachineError(f"threshold {threshold}: use a number from 0 to 1")
    model = load(machine)
    live = set(
        Code.objects.filter(study=machine.study_id, codable=True).values_list("pk", flat=True)
    )
    model = {
        **model,
        "classifiers": {c: m for c, m in model["classifiers"].items() if c in live},
    }
    for document in documents:
        if document.study_id != machine.study_id:
            raise MachineError(f"document {document.title!r} is not in {machine.study.slug}")
    written = 0
    for document in documents:
        spans = list(document.sentences.order_by("seq").values_list("start", "end"))
        text = document.text
        probability = predict(model, [text[start:end] for start, end in spans])
        items = [
            Suggested(code_id, start, end, float(p))
            for code_id, values in probability.items()
            for (start, end), p in zip(spans, values, strict=True)
            if p >= threshold
        ]
        written += write_suggestions(machine, document, items)
    record(
        machine.study,
        AuditEvent.Action.MODEL,
        f"{machine.label} suggested {written:,} codings in {len(documents)} documents",
        details={"machine": machine.pk, "threshold": threshold, "suggestions": written},
    )
    return written
