"""The learned engine: trained on a layer of the study at the sentence level, measured like a
coder (cross-validated by document) before it suggests, steered by the coders, and its
suggestions kept in its own layer."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import FeatureUnion

from coding.machine import MachineError, learned, steer
from coding.models import Code, Coding, MachineCoder, MachineScore, SuggestionDecision
from coding.services import CodingSpan, apply_codings
from studies.models import AuditEvent, Document, Sentence, Study
from studies.services import import_transcripts

# --- The demo study: the kappas equal scikit-learn's own over the same folds -----------------


def test_cross_validated_kappa_equals_an_independent_sklearn_computation(demo: Study) -> None:
    bob = User.objects.get(username="bob")
    metrics = learned.cross_validate(demo, "bob")
    assert metrics["k"] == 5 and metrics["layer"] == "bob"

    # The layer, sentence by sentence, computed here with plain loops: a code is present in a
    # sentence when one of Bob's codings of it shares a character with it.
    documents = sorted(
        set(
            Coding.objects.filter(coder=bob, document__study=demo).values_list(
                "document", flat=True
            )
        )
    )
    assert sorted(d for fold in metrics["folds"] for d in fold) == documents
    sentences = list(
        Sentence.objects.filter(document__in=documents)
        .order_by("document_id", "seq")
        .values_list("document_id", "start", "end")
    )
    texts_of = dict(Document.objects.filter(pk__in=documents).values_list("pk", "text"))
    texts = np.asarray([texts_of[d][s:e] for d, s, e in sentences], dtype=object)
    codings = list(
        Coding.objects.filter(coder=bob, document__in=documents).values_list(
            "document_id", "code_id", "start", "end"
        )
    )
    fold_of = {d: i for i, fold in enumerate(metrics["folds"]) for d in fold}
    folds = np.asarray([fold_of[d] for d, _, _ in sentences])
    splits = [(np.flatnonzero(folds != i), np.flatnonzero(folds == i)) for i in range(5)]

    rows = {row["code"]: row for row in metrics["codes"]}
    learned_codes = [code for code, row in rows.items() if row["learned"]]
    assert len(learned_codes) == Code.objects.filter(study=demo, codable=True).count() == 13
    by_code: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for document, code, start, end in codings:
        by_code.setdefault((code, document), []).append((start, end))
    labels = {}
    for code in learned_codes:
        labels[code] = np.asarray(
            [
                int(any(cs < e and s < ce for cs, ce in by_code.get((code, d), ())))
                for d, s, e in sentences
            ]
        )
        assert rows[code]["positives"] == labels[code].sum()

    # Each fold's features fitted on its training part only; one classifier per code.
    probability = {code: np.zeros(len(texts)) for code in learned_codes}
    for train, test in splits:
        union = learned.features()
        x_train = union.fit_transform(texts[train])
        x_test = union.transform(texts[test])
        for code in learned_codes:
            model = LogisticRegression(
                solver="liblinear", class_weight="balanced", random_state=0
            ).fit(x_train, labels[code][train])
            probability[code][test] = model.predict_proba(x_test)[:, 1]
    for code in learned_codes:
        expected = cohen_kappa_score(labels[code], (probability[code] >= 0.5).astype(int))
        assert rows[code]["kappa"] == pytest.approx(expected, abs=1e-12), rows[code]["path"]

    # And a code's model is exactly scikit-learn's own pipeline, cross-validated by sklearn.
    negotiability = Code.objects.get(study=demo, name="negotiability").pk
    assert isinstance(learned.pipeline()[0], FeatureUnion)
    by_sklearn = cross_val_predict(
        learned.pipeline(), texts, labels[negotiability], cv=splits, method="predict_proba"
    )[:, 1]
    assert np.allclose(by_sklearn, probability[negotiability])
    table = rows[negotiability]["precision_coverage"]
    assert [t["threshold"] for t in table] == [0.5, 0.6, 0.7, 0.8, 0.9]
    at = table[2]
    chosen = probability[negotiability] >= 0.7
    assert at["suggested"] == chosen.sum()
    assert at["precision"] == pytest.approx(labels[negotiability][chosen].mean())
    assert at["coverage"] == pytest.approx(
        labels[negotiability][chosen].sum() / labels[negotiability].sum()
    )


# --- A small study of three sessions ---------------------------------------------------------

SESSIONS = [
    """Session one

Facilitator: Welcome everyone. Let us talk about decisions.
Amara: The bank refused my loan and the system gave no reason. I wanted a loan for a flat.
Callum: My doctor trusted the scan more than my own words. The loan officer was kind though.
Amara: Welfare payments stopped without warning. The doctor said the software decided.
Callum: I would like a person to look at my loan again. Nice weather today.
""",
    """Session two

Facilitator: Shall we begin? Tell me about a decision.
Amara: The loan was refused by a computer. My doctor used an app to decide on treatment.
Callum: The bank never explained the loan decision. We had lunch after the meeting.
Amara: A doctor should listen to the patient. The room was cold.
""",
    """Session three

Facilitator: Good morning. What happened to you?
Callum: The doctor checked the algorithm before she spoke to me. The bus was late.
Amara: My loan application vanished into the system. The doctor was patient with me.
Callum: Nobody at the bank could change the loan outcome. Coffee was good.
""",
]


def coded_spans(document: Document, word: str) -> list[tuple[int, int]]:
    """The sentences of the document that contain `word` (case-insensitive)."""
    return [
        (s, e)
        for s, e in document.sentences.order_by("seq").values_list("start", "end")
        if word in document.text[s:e].lower()
    ]


@pytest.fixture
def sessions(roster_study: Study, people: dict[str, User]) -> list[Document]:
    """Three sessions: Bob coded lending on every sentence about a loan and medicine on every
    one about a doctor in the first two, and welfare once; the consensus (Alice) has lending in
    the first two and nothing else; the third is coded by no one."""
    workshop = roster_study.workshops.get(code="GB-1")
    documents = [
        outcome.document
        for outcome in import_transcripts(
            study=roster_study,
            workshop=workshop,
            files=[(f"S{n}.txt", text.encode()) for n, text in enumerate(SESSIONS, 1)],
        )
    ]
    codes = {
        name: Code.objects.create(study=roster_study, name=name)
        for name in ("lending", "medicine", "welfare")
    }
    spans = []
    for document in documents[:2]:
        spans += [
            CodingSpan(document.pk, codes["lending"].pk, s, e)
            for s, e in coded_spans(document, "loan")
        ]
        spans += [
            CodingSpan(document.pk, codes["medicine"].pk, s, e)
            for s, e in coded_spans(document, "doctor")
        ]
    [(s, e)] = coded_spans(documents[0], "welfare")
    spans.append(CodingSpan(documents[0].pk, codes["welfare"].pk, s, e))
    apply_codings(user=people["bob"], spans=spans)
    apply_codings(
        user=people["alice"],
        spans=[
            CodingSpan(document.pk, codes["lending"].pk, s, e, consensus=True)
            for document in documents[:2]
            for s, e in coded_spans(document, "loan")
        ],
    )
    return documents


def row(metrics: dict, path: str) -> dict:
    return next(r for r in metrics["codes"] if r["path"] == path)


def test_training_data_is_the_layers_sentences_with_their_codes(
    sessions: list[Document],
) -> None:
    study = sessions[0].study
    data = learned.training_data(study, "bob")
    assert data.documents == [sessions[0].pk, sessions[1].pk]  # the third was never coded
    assert len(data.texts) == Sentence.objects.filter(document__in=sessions[:2]).count()
    lending = Code.objects.get(study=study, name="lending").pk
    coded = [t for t, y in zip(data.texts, data.labels[lending], strict=True) if y]
    assert coded and all("loan" in t.lower() for t in coded)
    assert data.positives(lending) == sum(len(coded_spans(d, "loan")) for d in sessions[:2])
    consensus = learned.training_data(study, "consensus")
    assert consensus.positives(Code.objects.get(study=study, name="medicine").pk) == 0


def test_training_reports_codes_with_too_few_examples_and_stores_a_version(
    sessions: list[Document], people: dict[str, User]
) -> None:
    study = sessions[0].study
    machine = learned.train(study, "bob", user=people["alice"])
    assert (machine.engine, machine.model_name, machine.version) == ("learned", "tfidf-logreg", 1)
    assert machine.trained_on == "bob" and machine.artefact
    metrics = machine.metrics
    assert metrics["k"] == 2
    assert sorted(metrics["folds"]) == [[sessions[0].pk], [sessions[1].pk]]
    welfare = row(metrics, "welfare")
    assert welfare["learned"] is False and welfare["note"] == "not learned (1 examples)"
    assert row(metrics, "lending")["learned"] and "kappa" in row(metrics, "lending")
    assert metrics["previous"] is None
    event = AuditEvent.objects.filter(study=study, action=AuditEvent.Action.MODEL).get()
    assert event.summary.startswith(f"Trained {machine.label}") and event.user == people["alice"]


def test_training_is_deterministic_and_the_next_version_shows_the_change(
    sessions: list[Document],
) -> None:
    study = sessions[0].study
    first = learned.train(study, "bob")
    second = learned.train(study, "bob")
    assert second.version == 2
    kappas = [{r["code"]: r.get("kappa") for r in m.metrics["codes"]} for m in (first, second)]
    assert kappas[0] == kappas[1]
    texts = [sessions[2].text[s:e] for s, e in sessions[2].sentences.values_list("start", "end")]
    one, two = (learned.predict(learned.load(m), texts) for m in (first, second))
    assert all(np.array_equal(one[c], two[c]) for c in one)
    lending = row(second.metrics, "lending")
    assert second.metrics["previous"]["version"] == 1
    assert lending["previous_kappa"] == row(first.metrics, "lending")["kappa"]


def test_steering_adds_and_removes_a_sentences_label(
    sessions: list[Document], people: dict[str, User]
) -> None:
    study = sessions[0].study
    lending = Code.objects.get(study=study, name="lending")
    document = sessions[0]
    (s, e), *_ = coded_spans(document, "loan")
    (ws, we), *_ = coded_spans(document, "weather")
    before = learned.training_data(study, "bob")
    index = {(d, a, b): i for i, (d, a, b) in enumerate(before.spans)}
    assert before.labels[lending.pk][index[(document.pk, s, e)]] == 1
    assert before.labels[lending.pk][index[(document.pk, ws, we)]] == 0

    steer(user=people["bob"], document=document, code_id=lending.pk, start=s, end=e, positive=False)
    steer(
        user=people["bob"], document=document, code_id=lending.pk, start=ws, end=we, positive=True
    )
    after = learned.training_data(study, "bob")
    assert after.labels[lending.pk][index[(document.pk, s, e)]] == 0  # "not this"
    assert after.labels[lending.pk][index[(document.pk, ws, we)]] == 1  # "more like this"
    assert after.steered == {"positive": 1, "negative": 1}
    assert after.positives(lending.pk) == before.positives(lending.pk)


def test_a_rejected_machine_suggestion_is_a_negative(
    sessions: list[Document], people: dict[str, User]
) -> None:
    study = sessions[0].study
    lending = Code.objects.get(study=study, name="lending")
    machine = learned.train(study, "bob")
    learned.suggest(machine, sessions[:1], threshold=0.0)
    (s, e), *_ = coded_spans(sessions[0], "loan")
    suggestion = Coding.objects.get(coder=machine.user, code=lending, start=s, end=e)
    data = learned.training_data(study, "bob")
    i = data.spans.index((sessions[0].pk, suggestion.start, suggestion.end))
    assert data.labels[lending.pk][i] == 1
    SuggestionDecision.objects.create(
        document=sessions[0],
        code=lending,
        user=people["bob"],
        start=suggestion.start,
        end=suggestion.end,
        verdict=SuggestionDecision.Verdict.REJECTED,
    )
    assert learned.training_data(study, "bob").labels[lending.pk][i] == 0


def test_suggestions_are_the_machines_layer_only_above_the_threshold(
    sessions: list[Document],
) -> None:
    study = sessions[0].study
    people_before = list(
        Coding.objects.layer("all").order_by("pk").values_list("pk", "code", "start", "end")
    )
    consensus_before = Coding.objects.layer("consensus").count()
    machine = learned.train(study, "bob")
    written = learned.suggest(machine, [sessions[2]], threshold=0.6)
    suggestions = Coding.objects.filter(coder=machine.user)
    assert written == suggestions.count() > 0
    assert set(suggestions.values_list("document", flat=True)) == {sessions[2].pk}
    scores = list(
        MachineScore.objects.filter(coding__in=suggestions).values_list("confidence", flat=True)
    )
    assert len(scores) == written and all(0.6 <= p <= 1 for p in scores)
    # Whole sentences, and the loan sentences among the lending suggestions.
    sentences = set(sessions[2].sentences.values_list("start", "end"))
    assert set(suggestions.values_list("start", "end")) <= sentences
    lending = suggestions.filter(code__name="lending")
    assert lending and all("loan" in sessions[2].text[c.start : c.end].lower() for c in lending)
    # No person's codings changed, and no person's layer holds the machine's.
    assert (
        list(Coding.objects.layer("all").order_by("pk").values_list("pk", "code", "start", "end"))
        == people_before
    )
    assert Coding.objects.layer("consensus").count() == consensus_before
    # A lower threshold suggests more, replacing what was there.
    assert learned.suggest(machine, [sessions[2]], threshold=0.0) >= written
    assert Coding.objects.filter(coder=machine.user).count() == 2 * len(sentences)


def test_the_layer_chosen_is_the_one_learned_from(sessions: list[Document]) -> None:
    study = sessions[0].study
    machine = learned.train(study, "consensus")
    assert machine.trained_on == "consensus"
    assert row(machine.metrics, "medicine")["note"] == "not learned (0 examples)"
    assert row(machine.metrics, "lending")["learned"]
    model = learned.load(machine)
    assert set(model["classifiers"]) == {Code.objects.get(study=study, name="lending").pk}
    with pytest.raises(MachineError, match="use consensus or the username"):
        learned.training_data(study, "nobody")


def test_too_few_judged_documents_is_a_clear_error(
    sessions: list[Document], people: dict[str, User]
) -> None:
    study = sessions[0].study
    with pytest.raises(MachineError, match="has no codings"):
        learned.train(study, "victor")
    code = Code.objects.get(study=study, name="lending")
    (s, e), *_ = coded_spans(sessions[2], "loan")
    apply_codings(user=people["alice"], spans=[CodingSpan(sessions[2].pk, code.pk, s, e)])
    with pytest.raises(MachineError, match="needs at least 2"):
        learned.cross_validate(study, "alice")
    assert not MachineCoder.objects.exists()


# --- The command -----------------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("suggest", *args, stdout=out)
    return out.getvalue()


def test_the_command_trains_then_suggests_for_the_documents_the_layer_left(
    sessions: list[Document],
) -> None:
    study = sessions[0].study
    with pytest.raises(CommandError, match="train first with --train"):
        run("--study", study.slug, "--engine", "learned")
    out = run("--study", study.slug, "--engine", "learned", "--train", "--layer", "bob")
    assert "lending" in out and "not learned (1 examples)" in out and "kappa" in out
    machine = MachineCoder.objects.get()
    assert set(Coding.objects.filter(coder=machine.user).values_list("document", flat=True)) == {
        sessions[2].pk
    }
    # Again without training, for a named document and a threshold.
    out = run(
        "--study", study.slug, "--engine", "learned", "--documents", "S1", "--threshold", "0.9"
    )
    assert MachineCoder.objects.count() == 1 and "in 1 documents" in out
    assert all(
        p >= 0.9
        for p in MachineScore.objects.filter(coding__document=sessions[0]).values_list(
            "confidence", flat=True
        )
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--study", "nope", "--engine", "learned"], "--study 'nope': no such study"),
        (["--study", "adm", "--engine", "learned", "--documents", "S9"], "--documents 'S9'"),
        (["--study", "adm", "--engine", "learned", "--train", "--layer", "nobody"], "nobody"),
        (["--study", "adm", "--engine", "learned", "--train"], "consensus layer"),
        (["--study", "adm", "--engine", "learned", "--threshold", "2"], "--threshold 2"),
        (["--study", "adm", "--engine", "llm"], "not available"),
    ],
)
def test_the_command_names_what_is_wrong(
    roster_study: Study, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)
