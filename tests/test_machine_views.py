"""Machine coding in the product: the Machine coding page, its API, suggestions in the coding
view (least certain first, accepted as the person's own coding, rejected as "not this"),
steering, and the machine measured like a coder on the Reliability page and in the command.

The engines are replaced by small fakes here (their own tests are theirs): these tests are about
the page, the API and the coding view around them."""

from __future__ import annotations

import io
import sys
import types

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

import coding.machine
from coding.machine import MachineError, Suggested, new_machine_coder, write_suggestions
from coding.models import (
    Code,
    Coding,
    MachineCoder,
    SuggestionDecision,
    TrainingExample,
)
from coding.services import CodingSpan, apply_codings
from studies.models import AuditEvent, Document, Study
from studies.services import import_transcripts
from tests.helpers import client_for

GB_TXT = (
    "Amara: I want a person to talk to. Nobody explained it.\nCallum: A machine never listens.\n"
)


def sentences(document: Document) -> list[tuple[int, int]]:
    return list(document.sentences.order_by("seq").values_list("start", "end"))


@pytest.fixture
def uncoded(roster_study: Study, document: Document) -> Document:
    """GB-1's transcript: nobody coded it."""
    gb = roster_study.workshops.get(code="GB-1")
    [outcome] = import_transcripts(
        study=roster_study, workshop=gb, files=[("GB-1.txt", GB_TXT.encode())]
    )
    return outcome.document


@pytest.fixture
def fake_learned(monkeypatch: pytest.MonkeyPatch, codes: dict[str, Code]) -> types.ModuleType:
    """A learned engine that learns nothing: train() makes a new version with fixed metrics (a
    kappa 0.08 higher each time), suggest() puts the first two sentences of each document under
    negotiability with 0.9 and 0.55."""
    module = types.ModuleType("coding.machine.learned")
    negotiability = codes["negotiability"]

    def train(study: Study, layer: object, user: object = None) -> MachineCoder:
        name = "consensus" if layer == "consensus" else User.objects.get(pk=layer).username
        if not Coding.objects.filter(document__study=study).by_people().exists():
            raise MachineError("the layer has no codings to learn from")
        runs = MachineCoder.objects.filter(study=study, engine="learned").count()
        machine = new_machine_coder(study, "learned", "fake", trained_on=name, user=user)
        machine.metrics = {
            "codes": {
                str(negotiability.pk): {
                    "kappa": 0.53 + 0.08 * runs,
                    "positives": 4,
                    "thresholds": [
                        {"threshold": 0.5, "precision": 0.8, "coverage": 0.75},
                        {"threshold": 0.9, "precision": 1.0, "coverage": 0.25},
                    ],
                }
            }
        }
        machine.save(update_fields=["metrics"])
        return machine

    def suggest(machine: MachineCoder, documents: list, threshold: float = 0.5) -> int:
        written = 0
        for document in documents:
            (a, b), (c, d), *_rest = sentences(document)
            written += write_suggestions(
                machine,
                document,
                [Suggested(negotiability.pk, a, b, 0.9), Suggested(negotiability.pk, c, d, 0.55)],
            )
        return written

    module.train = train
    module.suggest = suggest
    monkeypatch.setitem(sys.modules, "coding.machine.learned", module)
    monkeypatch.setattr(coding.machine, "learned", module, raising=False)
    return module


@pytest.fixture
def fake_llm(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("coding.machine.llm")
    module.llm_available = lambda study: (
        "" if study.llm_suggestions else "the study has not opted in"
    )

    def suggest_llm(
        study: Study, documents: list, user: object = None, *, progress: object = None
    ) -> object:
        # As the engine does: every answer is checked before anything is written.
        raise MachineError("the model answered with a code that is not in the codebook")

    module.suggest_llm = suggest_llm
    monkeypatch.setitem(sys.modules, "coding.machine.llm", module)
    monkeypatch.setattr(coding.machine, "llm", module, raising=False)
    return module


def coded_by_bob(document: Document, codes: dict[str, Code], bob: User) -> None:
    (a, b), *_rest = sentences(document)
    apply_codings(user=bob, spans=[CodingSpan(document.pk, codes["negotiability"].pk, a, b)])


def page(study: Study) -> str:
    return reverse("coding:machine", args=[study.slug])


# --- The page --------------------------------------------------------------------------------


def test_the_page_is_for_members_and_only_owners_run_engines(
    roster_study: Study, people: dict[str, User], document: Document, fake_learned: object
) -> None:
    assert client_for(people["mallory"]).get(page(roster_study)).status_code == 404
    assert client_for(None).get(page(roster_study)).status_code == 302
    owner = client_for(people["alice"]).get(page(roster_study)).content.decode()
    assert "Machine coding" in owner and "Learn from" in owner and "Suggest for documents" in owner
    for name in ("bob", "victor"):
        html = client_for(people[name]).get(page(roster_study)).content.decode()
        assert "Learn from" not in html and "Suggest for documents" not in html
    for url in ("coding:machine_train", "coding:machine_suggest", "coding:machine_llm"):
        target = reverse(url, args=[roster_study.slug])
        assert client_for(people["bob"]).post(target, {"layer": "consensus"}).status_code == 403
        assert client_for(people["mallory"]).post(target).status_code == 404
    assert not MachineCoder.objects.exists()
    # Blind coding: a coder gets the note, not the figures.
    roster_study.blind_coding = True
    roster_study.save()
    html = client_for(people["bob"]).get(page(roster_study)).content.decode()
    assert "Learn from" not in html and "Agreement with" not in html


def test_training_shows_agreement_and_its_change_then_suggests_for_uncoded_documents(
    roster_study: Study,
    people: dict[str, User],
    document: Document,
    uncoded: Document,
    codes: dict[str, Code],
    fake_learned: object,
) -> None:
    alice = client_for(people["alice"])
    coded_by_bob(document, codes, people["bob"])
    bob_id = str(people["bob"].pk)
    response = alice.post(
        reverse("coding:machine_train", args=[roster_study.slug]), {"layer": bob_id}, follow=True
    )
    html = response.content.decode()
    assert "Trained Learned from this study fake v1, from bob" in html
    assert "0.53" in html and "new" in html
    # The precision/coverage table over thresholds.
    assert "≥ 0.50" in html and "0.80 / 0.75" in html and "1.00 / 0.25" in html
    # Retraining with the same layer is one click: the layer is preselected.
    assert f'<option value="{bob_id}" selected>' in html
    html = alice.post(
        reverse("coding:machine_train", args=[roster_study.slug]), {"layer": bob_id}, follow=True
    ).content.decode()
    assert "v2" in html and "0.61" in html and "+0.08" in html
    # Documents the layer did not code are preselected for suggestions.
    assert f'value="{uncoded.pk}" checked' in html
    assert f'value="{document.pk}" checked' not in html
    html = alice.post(
        reverse("coding:machine_suggest", args=[roster_study.slug]),
        {"engine": "learned", "document": [uncoded.pk]},
        follow=True,
    ).content.decode()
    assert "2 suggestions in 1 document" in html
    machine = MachineCoder.objects.get(version=2)
    assert Coding.objects.filter(coder=machine.user, document=uncoded).count() == 2
    assert Coding.objects.layer("all").filter(document=uncoded).count() == 0
    # The engines record their own training and runs (these fakes do not): the page adds none.
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.MODEL).exists()


def test_errors_are_shown_and_nothing_is_half_written(
    roster_study: Study,
    people: dict[str, User],
    document: Document,
    uncoded: Document,
    codes: dict[str, Code],
    fake_learned: object,
    fake_llm: object,
) -> None:
    alice = client_for(people["alice"])
    train = reverse("coding:machine_train", args=[roster_study.slug])
    suggest = reverse("coding:machine_suggest", args=[roster_study.slug])
    html = alice.post(train, {"layer": "nobody"}, follow=True).content.decode()
    assert "Not trained: layer &#x27;nobody&#x27;" in html
    html = alice.post(train, {"layer": "consensus"}, follow=True).content.decode()
    assert "Not trained: the layer has no codings to learn from" in html
    html = alice.post(
        suggest, {"engine": "learned", "document": [uncoded.pk]}, follow=True
    ).content.decode()
    assert "the learned engine is not trained yet" in html
    html = alice.post(suggest, {"engine": "learned", "document": ["x"]}, follow=True)
    assert "is not a document id" in html.content.decode()
    # The LLM: off until the owner opts in, and its failure leaves nothing written.
    html = alice.post(suggest, {"engine": "llm", "document": [uncoded.pk]}, follow=True)
    assert "the study has not opted in" in html.content.decode()
    alice.post(reverse("coding:machine_llm", args=[roster_study.slug]), {"llm_suggestions": "on"})
    roster_study.refresh_from_db()
    assert roster_study.llm_suggestions is True
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.STUDY, summary="Turned LLM suggestions on"
    ).exists()
    html = alice.post(
        suggest, {"engine": "llm", "document": [uncoded.pk]}, follow=True
    ).content.decode()
    assert "No suggestions: the model answered with a code that is not in the codebook" in html
    assert not Coding.objects.machine_layer().exists()
    assert not MachineCoder.objects.filter(engine="llm").exists()


# --- The coding view --------------------------------------------------------------------------


@pytest.fixture
def suggested(uncoded: Document, codes: dict[str, Code]) -> MachineCoder:
    machine = new_machine_coder(uncoded.study, "learned", "fake", trained_on="consensus")
    (a, b), (c, d), (e, f) = sentences(uncoded)[:3]
    n = codes["negotiability"].pk
    write_suggestions(
        machine,
        uncoded,
        [Suggested(n, a, b, 0.95), Suggested(n, c, d, 0.52), Suggested(n, e, f, 0.7)],
    )
    return machine


def test_machine_suggestions_reach_the_coding_view_least_certain_first(
    uncoded: Document, suggested: MachineCoder, people: dict[str, User]
) -> None:
    url = reverse("coding:suggestions", args=[uncoded.study.slug, uncoded.pk])
    machine = client_for(people["bob"]).get(url).json()["machine"]
    assert [s["confidence"] for s in machine] == [0.52, 0.7, 0.95]
    assert machine[0]["machine"] == suggested.label
    assert client_for(people["victor"]).get(url).json() == {"suggestions": []}
    # The coding view knows where "More like this" goes.
    html = client_for(people["bob"]).get(
        reverse("coding:workbench", args=[uncoded.study.slug, uncoded.pk])
    )
    assert reverse("study-machine-steer", args=[uncoded.study.slug]) in html.content.decode()


def test_accepting_makes_the_persons_coding_and_rejecting_is_not_this(
    uncoded: Document, suggested: MachineCoder, people: dict[str, User], codes: dict[str, Code]
) -> None:
    bob = client_for(people["bob"])
    (a, b), (c, d), _ = sentences(uncoded)[:3]
    n = codes["negotiability"].pk
    body = {"document": uncoded.pk, "code": n, "start": c, "end": d, "verdict": "accepted"}
    answer = bob.post("/api/v1/suggestions/", body, content_type="application/json")
    assert answer.status_code == 201 and answer.json()["coding"]["coder"] == "bob"
    assert Coding.objects.layer("mine", user=people["bob"]).filter(start=c, end=d).exists()
    assert Coding.objects.filter(coder=suggested.user).count() == 3  # the machine's untouched
    body.update(start=a, end=b, verdict="rejected")
    assert bob.post("/api/v1/suggestions/", body, content_type="application/json").status_code == (
        201
    )
    assert SuggestionDecision.objects.get(start=a, user=people["bob"]).verdict == "rejected"
    example = TrainingExample.objects.get()
    assert (example.start, example.end, example.positive, example.user) == (
        a,
        b,
        False,
        people["bob"],
    )
    url = reverse("coding:suggestions", args=[uncoded.study.slug, uncoded.pk])
    assert [s["confidence"] for s in bob.get(url).json()["machine"]] == [0.7]


def test_more_like_this_through_the_api(
    uncoded: Document, people: dict[str, User], codes: dict[str, Code]
) -> None:
    slug = uncoded.study.slug
    url = reverse("study-machine-steer", args=[slug])
    (a, b), *_ = sentences(uncoded)
    body = {"document": uncoded.pk, "code": codes["negotiability"].pk, "start": a, "end": b}
    bob = client_for(people["bob"])
    answer = bob.post(url, {**body, "positive": True}, content_type="application/json")
    assert answer.status_code == 201 and answer.json()["positive"] is True
    assert TrainingExample.objects.get().positive is True
    answer = bob.post(
        url, {**body, "end": 10**6, "positive": True}, content_type="application/json"
    )
    assert answer.status_code == 400 and "the text's length" in answer.json()["end"][0]
    answer = bob.post(
        url, {**body, "code": 10**6, "positive": True}, content_type="application/json"
    )
    assert answer.status_code == 400 and answer.json() == {"code": ["No such code in this study."]}
    viewer = client_for(people["victor"])
    assert (
        viewer.post(url, {**body, "positive": True}, content_type="application/json").status_code
        == 403
    )
    outsider = client_for(people["mallory"])
    assert (
        outsider.post(url, {**body, "positive": True}, content_type="application/json").status_code
        == 404
    )


# --- The API ----------------------------------------------------------------------------------


def test_the_api_lists_trains_and_suggests(
    roster_study: Study,
    people: dict[str, User],
    document: Document,
    uncoded: Document,
    codes: dict[str, Code],
    fake_learned: object,
) -> None:
    alice = client_for(people["alice"])
    slug = roster_study.slug
    api = f"/api/v1/studies/{slug}/machine/"
    assert alice.get(api).json() == {"llm_suggestions": False, "machines": []}
    answer = alice.post(api + "train/", {"layer": "consensus"}, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json() == {"layer": ["the layer has no codings to learn from"]}
    answer = alice.post(
        api + "suggest/",
        {"engine": "learned", "documents": [uncoded.pk]},
        content_type="application/json",
    )
    assert answer.status_code == 400 and "not trained yet" in answer.json()["engine"][0]
    coded_by_bob(document, codes, people["bob"])
    answer = alice.post(api + "train/", {"layer": "bob"}, content_type="application/json")
    assert answer.status_code == 201
    assert answer.json()["codes"][0]["kappa"] == pytest.approx(0.53)
    assert answer.json()["codes"][0]["thresholds"][0] == {
        "threshold": 0.5,
        "precision": 0.8,
        "coverage": 0.75,
    }
    answer = alice.post(
        api + "suggest/",
        {"engine": "learned", "documents": [uncoded.pk]},
        content_type="application/json",
    )
    assert answer.status_code == 200
    assert answer.json()["suggestions"] == 2 and answer.json()["documents"] == 1
    answer = alice.post(
        api + "suggest/",
        {"engine": "learned", "documents": [10**9]},
        content_type="application/json",
    )
    assert answer.status_code == 400 and "no such document" in answer.json()["documents"][0]
    listed = client_for(people["victor"]).get(api).json()["machines"]
    assert [(m["version"], m["current"], m["trained_on"]) for m in listed] == [(1, True, "bob")]
    bob = client_for(people["bob"])
    assert (
        bob.post(api + "train/", {"layer": "bob"}, content_type="application/json").status_code
        == 403
    )
    assert client_for(people["mallory"]).get(api).status_code == 404


# --- Measured like a coder --------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["sentence", "turn"])
def test_reliability_measures_the_machine_beside_the_people(
    uncoded: Document,
    suggested: MachineCoder,
    people: dict[str, User],
    codes: dict[str, Code],
    unit: str,
) -> None:
    (a, b), *_ = sentences(uncoded)
    n = codes["negotiability"].pk
    apply_codings(user=people["bob"], spans=[CodingSpan(uncoded.pk, n, a, b)])
    out = io.StringIO()
    call_command("reliability", "--study", "adm", "--unit", unit, stdout=out)
    text = out.getvalue()
    username = suggested.user.username
    assert f"coders: bob, {username} ({suggested.label})" in text
    assert "negotiability" in text
    out = io.StringIO()
    with pytest.raises(Exception, match="two or more coders"):
        call_command("reliability", "--study", "adm", "--no-machines", stdout=out)
    # The page: the machine is named for what it is, and can be left out.
    alice = client_for(people["alice"])
    url = reverse("coding:reliability", args=["adm"])
    html = alice.get(url, {"unit": unit}).content.decode()
    assert f"(machine: {suggested.label})" in html and f"{username} is {suggested.label}" in html
    html = alice.get(url, {"unit": unit, "machines": "off"}).content.decode()
    assert "two or more coders" in html
    # The API, too.
    report = alice.get("/api/v1/studies/adm/reliability/", {"unit": unit}).json()
    assert report["coders"] == ["bob", username]
    assert report["machines"] == {username: suggested.label}
    assert alice.get("/api/v1/studies/adm/reliability/", {"machines": "off"}).status_code == 400
