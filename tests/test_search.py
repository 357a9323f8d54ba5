"""Searching the transcripts, keyword in context, and coding the results in one go."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from coding.models import Code, Coding
from coding.search import Hit, describe_lemma_search, search
from studies.access import Access
from studies.models import Document, Participant, Sentence, Study, Turn, Workshop
from studies.services import import_transcripts
from tests.helpers import client_for

GB_TEXT = """Facilitator: What should a bank's system do when it refuses you a loan?
Amara: It should explain why. I wanted to explain my situation to a person.
Callum: The bank explained nothing.
Explaining takes time, they said.
Amara: That's negotiability, isn't it? Being able to talk to someone.
"""

FI_TEXT = """Fasilitaattori: Mitä algoritmin pitäisi tehdä?
Aino: Sen pitäisi selittää päätöksensä. Selitys auttaa luottamaan.
Eero: En luota siihen, jos se ei selitä mitään.
"""

DE_TEXT = """Moderatorin: Was soll ein System erklären?
Anna: Ich erkläre es gern. Das System erklärt nichts, das ist das Problem.
"""


@pytest.fixture
def corpus(roster_study: Study) -> Study:
    """The roster study with three transcripts: GB-1 (English), FI-1 (Finnish) and DE-1
    (German), and a codebook with a Concept dimension."""
    study = roster_study
    de = Workshop.objects.create(
        study=study, code="DE-1", country="DE", language="de", facilitators="Moderatorin"
    )
    Participant.objects.create(study=study, code="P06", workshop=de, aliases="Anna")
    for code, text in (("GB-1", GB_TEXT), ("FI-1", FI_TEXT), ("DE-1", DE_TEXT)):
        workshop = study.workshops.get(code=code)
        import_transcripts(study=study, workshop=workshop, files=[(f"{code}.txt", text.encode())])
    concept = Code.objects.create(study=study, name="Concept", codable=False)
    Code.objects.create(study=study, parent=concept, name="explainability")
    Code.objects.create(study=study, parent=concept, name="negotiability")
    return study


def gb(study: Study) -> Document:
    return study.documents.get(title="GB-1")


def code(study: Study, name: str) -> Code:
    return Code.objects.get(study=study, name=name)


def run(study: Study, query: str, user: User, role: str = "owner", **kwargs: object) -> list[Hit]:
    return search(study, query, access=Access(study, user, role), **kwargs)


def matches(hits: list[Hit]) -> list[str]:
    return [hit.match for hit in hits]


def search_url(**params: str) -> str:
    url = reverse("coding:search", args=["adm"])
    if params:
        url += "?" + urlencode(params)
    return url


def code_url() -> str:
    return reverse("coding:code_results", args=["adm"])


# --- modes ------------------------------------------------------------------------------------


def test_word_mode_finds_whole_words_in_any_case(corpus: Study, people: dict[str, User]) -> None:
    hits = run(corpus, "EXPLAIN", people["alice"])
    assert matches(hits) == ["explain", "explain"]
    assert {hit.participant for hit in hits} == {"P04"}
    assert all(gb(corpus).text[hit.start : hit.end] == "explain" for hit in hits)


def test_word_mode_with_several_words_needs_them_all_in_one_turn(
    corpus: Study, people: dict[str, User]
) -> None:
    hits = run(corpus, "explain person", people["alice"])
    assert matches(hits) == ["explain", "explain", "person"]
    # "bank" and "explain" are both said, but never in the same turn.
    assert run(corpus, "explain bank", people["alice"]) == []


def test_phrase_mode_finds_the_exact_phrase_across_line_breaks(
    corpus: Study, people: dict[str, User]
) -> None:
    assert matches(run(corpus, "Explain MY situation", people["alice"], mode="phrase")) == [
        "explain my situation"
    ]
    [hit] = run(corpus, "nothing.   explaining", people["alice"], mode="phrase")
    assert gb(corpus).text[hit.start : hit.end] == "nothing.\nExplaining"
    assert hit.match == "nothing. Explaining"
    # A curly apostrophe in the query finds a straight one in the text.
    assert matches(run(corpus, "isn\u2019t it", people["alice"], mode="phrase")) == ["isn't it"]
    # A phrase is not found inside a longer word.
    assert run(corpus, "plain my", people["alice"], mode="phrase") == []


def test_lemma_mode_finds_every_form_of_explained(corpus: Study, people: dict[str, User]) -> None:
    hits = run(corpus, "explained", people["alice"], mode="lemma")
    assert matches(hits) == ["explain", "explain", "explained", "Explaining"]
    assert {hit.workshop for hit in hits} == {"GB-1"}


def test_lemma_mode_in_german_finds_erklaeren_from_erklaert(
    corpus: Study, people: dict[str, User]
) -> None:
    hits = run(corpus, "erklärt", people["alice"], mode="lemma")
    assert matches(hits) == ["erklären", "erkläre", "erklärt"]
    assert [hit.speaker for hit in hits] == ["Moderatorin", "Anna", "Anna"]
    assert hits[0].participant == ""
    assert {hit.country for hit in hits} == {"DE"}


def test_lemma_mode_in_finnish_falls_back_to_a_stem_and_says_so(
    corpus: Study, people: dict[str, User]
) -> None:
    hits = run(corpus, "selittää", people["alice"], mode="lemma")
    assert matches(hits) == ["selittää", "Selitys", "selitä"]
    notes = describe_lemma_search("selittää", ["fi", "en-GB"])
    assert notes == [
        "English: selittää",
        "Finnish has no word list here, so lemma search finds words beginning with “selit”",
    ]


def test_a_hit_shows_its_context_inside_the_turn(corpus: Study, people: dict[str, User]) -> None:
    [hit] = run(corpus, "situation", people["alice"], context_chars=23)
    assert (hit.left, hit.match, hit.right) == (
        "I wanted to explain my ",
        "situation",
        " to a person.",
    )
    # The right context stops at the end of Amara's turn, before Callum speaks.
    [person] = run(corpus, "person", people["alice"], context_chars=20)
    assert person.right == "."
    # A line break inside a turn reads as a space.
    [nothing] = run(corpus, "nothing", people["alice"], context_chars=12)
    assert nothing.right == ". Explaining"
    assert (hit.document_title, hit.workshop, hit.country, hit.country_name) == (
        "GB-1",
        "GB-1",
        "GB",
        "United Kingdom",
    )
    assert (hit.turn_seq, hit.speaker, hit.participant) == (2, "Amara", "P04")


def test_a_hit_knows_the_sentence_it_is_in(corpus: Study, people: dict[str, User]) -> None:
    [hit] = run(corpus, "situation", people["alice"])
    text = gb(corpus).text
    assert text[hit.sentence_start : hit.sentence_end] == (
        "I wanted to explain my situation to a person."
    )
    assert Sentence.objects.filter(
        document=gb(corpus), start=hit.sentence_start, end=hit.sentence_end
    ).exists()


def test_speaker_labels_and_headers_are_not_results(corpus: Study, people: dict[str, User]) -> None:
    assert run(corpus, "Amara", people["alice"]) == []


# --- filters ----------------------------------------------------------------------------------


def test_filters_narrow_by_workshop_country_and_speaker(
    corpus: Study, people: dict[str, User]
) -> None:
    alice = people["alice"]
    assert matches(run(corpus, "system", alice, workshop="GB-1")) == ["system"]
    assert matches(run(corpus, "system", alice, workshop="DE-1")) == ["System", "System"]
    assert matches(run(corpus, "system", alice, country="de")) == ["System", "System"]
    assert run(corpus, "system", alice, country="FI") == []
    lemma = {"mode": "lemma"}
    assert matches(run(corpus, "explain", alice, speaker="P05", **lemma)) == [
        "explained",
        "Explaining",
    ]
    assert matches(run(corpus, "explain", alice, speaker="amara", **lemma)) == [
        "explain",
        "explain",
    ]
    assert matches(run(corpus, "erklären", alice, speaker="Moderatorin", **lemma)) == ["erklären"]


@pytest.fixture
def coded(corpus: Study, people: dict[str, User]) -> Study:
    """Bob coded Amara's first sentence with explainability, Alice her second."""
    document = gb(corpus)
    text = document.text
    explainability = code(corpus, "explainability")
    for user, sentence in (
        (people["bob"], "It should explain why."),
        (people["alice"], "I wanted to explain my situation to a person."),
    ):
        start = text.index(sentence)
        Coding.objects.create(
            document=document,
            code=explainability,
            coder=user,
            start=start,
            end=start + len(sentence),
        )
    return corpus


def test_the_code_filter_keeps_matches_inside_codings_of_that_code(
    coded: Study, people: dict[str, User]
) -> None:
    explainability = code(coded, "explainability")
    hits = run(coded, "explain", people["alice"], code=explainability)
    assert [hit.right[:10] for hit in hits] == [" why. I wa", " my situat"]
    # A dimension stands for its values.
    assert len(run(coded, "explain", people["alice"], code=code(coded, "Concept"))) == 2
    assert run(coded, "explain", people["alice"], code=code(coded, "negotiability")) == []


def test_under_blind_coding_the_code_filter_sees_only_my_codings(
    coded: Study, people: dict[str, User]
) -> None:
    coded.blind_coding = True
    coded.save()
    explainability = code(coded, "explainability").pk
    bob = run(coded, "explain", people["bob"], role="coder", code=explainability)
    assert [hit.right[:4] for hit in bob] == [" why"]
    # The owner still sees every coder's codings.
    assert len(run(coded, "explain", people["alice"], role="owner", code=explainability)) == 2
    # And the page gives Bob the same answer.
    html = (
        client_for(people["bob"])
        .get(search_url(q="explain", code=str(explainability)))
        .content.decode()
    )
    assert "1 result for “explain”" in html
    assert html.count('name="result"') == 1


# --- the page ---------------------------------------------------------------------------------


def test_context_is_cut_between_words_with_an_ellipsis_where_cut(
    corpus: Study, people: dict[str, User]
) -> None:
    # 20 characters before "situation" begin inside "wanted", 8 after it end inside "person".
    [hit] = run(corpus, "situation", people["alice"], context_chars=20)
    assert (hit.left, hit.left_cut) == ("to explain my ", True)
    assert (hit.right, hit.right_cut) == (" to a person.", False)
    [short] = run(corpus, "situation", people["alice"], context_chars=8)
    assert (short.left, short.left_cut) == ("my ", True)
    assert (short.right, short.right_cut) == (" to a", True)
    # A context that reaches the turn's edges is whole and not marked as cut.
    [whole] = run(corpus, "negotiability", people["alice"], context_chars=200)
    assert (whole.left, whole.left_cut, whole.right_cut) == ("That's ", False, False)
    # Every word of every context is a whole word of the transcript.
    words = set(GB_TEXT.replace("\n", " ").split())
    for hit in run(corpus, "explain", people["alice"], mode="lemma", context_chars=15):
        for side in (hit.left, hit.right):
            assert set(side.split()) <= words, side

    # The page marks a cut with an ellipsis: 60 characters before "zebra" begin inside "beta".
    text = "alpha beta gamma " * 10 + "zebra" + " delta epsilon" * 10
    Document.objects.create(study=corpus, title="Notes", text=text, sha256="-")
    html = client_for(people["victor"]).get(search_url(q="zebra")).content.decode()
    assert '<td class="kwic-left">…gamma alpha beta' in html
    assert "delta epsilon…</td>" in html


def test_the_search_page_shows_keyword_in_context_results(
    corpus: Study, people: dict[str, User]
) -> None:
    page = client_for(people["victor"]).get(search_url(q="explained", mode="lemma"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "4 results for “explained”" in html
    assert "<strong>Explaining</strong>" in html
    assert "The bank " in html
    workbench = reverse("coding:workbench", args=["adm", gb(corpus).pk])
    assert f'href="{workbench}#turn-3"' in html
    assert "United Kingdom" in html and "Callum (P05)" in html
    assert "English: explain, explained, explaining, explains" in html
    # A viewer reads results but is offered nothing to code with.
    assert 'name="result"' not in html
    assert "You can search but not code in this study." in html


def test_the_search_page_says_what_to_do_when_empty(corpus: Study, people: dict[str, User]) -> None:
    bob = client_for(people["bob"])
    assert "Type a word or a phrase above" in bob.get(search_url()).content.decode()
    nothing = bob.get(search_url(q="zebra", workshop="GB-1")).content.decode()
    assert "Nothing found for “zebra” with these filters. Try Lemma" in nothing
    empty = Study.objects.create(slug="empty", name="Empty")
    empty.memberships.create(user=people["bob"], role="coder")
    html = bob.get(reverse("coding:search", args=["empty"])).content.decode()
    assert "No transcripts yet, so there is nothing to search" in html


def test_long_result_lists_are_paginated(corpus: Study, people: dict[str, User]) -> None:
    text = "Trust. " * 60
    Document.objects.create(study=corpus, title="Notes", text=text.strip(), sha256="-")
    bob = client_for(people["bob"])
    first = bob.get(search_url(q="trust")).content.decode()
    assert "60 results for “trust”" in first
    assert first.count('name="result"') == 50
    assert "Page 1 of 2" in first
    assert 'href="?q=trust&amp;page=2"' in first
    second = bob.get(search_url(q="trust", page="2")).content.decode()
    assert second.count('name="result"') == 10
    assert "Select result 60" in second


def test_the_permission_ladder_holds_on_search(corpus: Study, people: dict[str, User]) -> None:
    url = search_url(q="explain")
    anonymous = client_for(None).get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert client_for(people["mallory"]).get(url).status_code == 404
    for name in ("victor", "bob", "alice"):
        assert client_for(people[name]).get(url).status_code == 200, name


# --- code these results -----------------------------------------------------------------------


def post_results(
    user: User | None, results: list[str], *, follow: bool = False, **fields: str
) -> object:
    data = {"result": results, "code": "", "unit": "match", "query": "q=explain", **fields}
    return client_for(user).post(code_url(), data, follow=follow)


def test_only_coders_and_owners_code_results(corpus: Study, people: dict[str, User]) -> None:
    [hit, _] = run(corpus, "explain", people["bob"])
    fields = {"code": str(code(corpus, "explainability").pk)}
    anonymous = post_results(None, [hit.key], **fields)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert post_results(people["mallory"], [hit.key], **fields).status_code == 404
    assert post_results(people["victor"], [hit.key], **fields).status_code == 403
    assert not Coding.objects.exists()
    assert post_results(people["bob"], [hit.key], **fields).status_code == 302
    assert Coding.objects.filter(coder=people["bob"]).count() == 1


def test_coding_results_creates_exactly_the_ticked_matches(
    corpus: Study, people: dict[str, User]
) -> None:
    hits = run(corpus, "explained", people["bob"], mode="lemma")
    explainability = code(corpus, "explainability")
    response = post_results(
        people["bob"],
        [hits[0].key, hits[3].key],
        follow=True,
        code=str(explainability.pk),
        query="q=explained&mode=lemma",
    )
    assert response.redirect_chain == [(search_url(q="explained", mode="lemma"), 302)]
    text = gb(corpus).text
    rows = list(
        Coding.objects.order_by("start").values_list("coder__username", "code", "start", "end")
    )
    assert [(who, c) for who, c, _, _ in rows] == [("bob", explainability.pk)] * 2
    assert [text[start:end] for _, _, start, end in rows] == ["explain", "Explaining"]
    assert "Coded 2 results with Concept/explainability." in response.content.decode()


def test_coding_results_by_sentence_or_turn_and_skipping_what_is_coded(
    corpus: Study, people: dict[str, User]
) -> None:
    hits = run(corpus, "explained", people["bob"], mode="lemma")
    explainability = str(code(corpus, "explainability").pk)
    text = gb(corpus).text
    bob = client_for(people["bob"])
    # Both of Amara's "explain"s are in different sentences; the third is Callum's.
    bob.post(
        code_url(),
        {"result": [hits[0].key, hits[1].key], "code": explainability, "unit": "sentence"},
    )
    assert sorted(text[c.start : c.end] for c in Coding.objects.all()) == [
        "I wanted to explain my situation to a person.",
        "It should explain why.",
    ]
    response = bob.post(
        code_url(),
        {
            "result": [hits[0].key, hits[1].key, hits[2].key],
            "code": explainability,
            "unit": "sentence",
        },
        follow=True,
    )
    assert "Coded 1 result with Concept/explainability (2 were already coded)." in (
        response.content.decode()
    )
    assert Coding.objects.count() == 3
    # Two matches in one turn make one turn coding.
    Coding.objects.all().delete()
    bob.post(
        code_url(),
        {"result": [hits[2].key, hits[3].key], "code": explainability, "unit": "turn"},
    )
    [coding] = Coding.objects.all()
    turn = Turn.objects.get(document=gb(corpus), seq=3)
    assert (coding.start, coding.end) == (turn.start, turn.end)
    assert (
        text[coding.start : coding.end]
        == "The bank explained nothing.\nExplaining takes time, they said."
    )


def test_bad_posted_results_are_refused_and_nothing_is_coded(
    corpus: Study, people: dict[str, User]
) -> None:
    document = gb(corpus)
    length = len(document.text)
    explainability = str(code(corpus, "explainability").pk)
    other = Study.objects.create(slug="other", name="Other")
    foreign = Document.objects.create(study=other, title="Secret", text="explain " * 10, sha256="-")
    foreign_code = Code.objects.create(study=other, name="secret")
    good = f"{document.pk}:0:5"
    for results, fields in (
        ([f"{document.pk}:{length - 3}:{length + 1}"], {}),
        ([f"{document.pk}:10:10"], {}),
        ([f"{document.pk}:12:4"], {}),
        ([f"{document.pk}:-1:4"], {}),
        (["explain"], {}),
        ([f"{document.pk}:1:2:3"], {}),
        ([f"{document.pk}:1:²"], {}),
        ([f"{document.pk}:0:99999999999999999999999"], {}),
        ([f"{foreign.pk}:0:7"], {}),
        ([good, f"{foreign.pk}:0:7"], {}),
        ([good], {"code": str(foreign_code.pk)}),
        ([good], {"code": str(code(corpus, "Concept").pk)}),
        ([good], {"code": "1e3"}),
        ([good], {"unit": "paragraph"}),
    ):
        response = post_results(people["bob"], results, **{"code": explainability, **fields})
        assert response.status_code == 400, (results, fields)
    assert not Coding.objects.exists()


def test_coding_nothing_ticked_or_no_code_says_what_to_do(
    corpus: Study, people: dict[str, User]
) -> None:
    [hit, _] = run(corpus, "explain", people["bob"])
    none_ticked = client_for(people["bob"]).post(
        code_url(),
        {"code": str(code(corpus, "explainability").pk), "query": "q=explain"},
        follow=True,
    )
    assert "Tick at least one result to code." in none_ticked.content.decode()
    no_code = post_results(people["bob"], [hit.key], follow=True).content.decode()
    assert "Choose the code to apply to the ticked results." in no_code
    assert not Coding.objects.exists()


def test_the_redirect_after_coding_stays_on_the_search_page(
    corpus: Study, people: dict[str, User]
) -> None:
    [hit, _] = run(corpus, "explain", people["bob"])
    response = post_results(
        people["bob"],
        [hit.key],
        code=str(code(corpus, "explainability").pk),
        query="q=explain&next=https://evil.example/",
    )
    assert response["Location"].startswith(reverse("coding:search", args=["adm"]) + "?")
    assert "//evil.example" not in response["Location"].split("?")[0]


def test_searching_costs_the_same_few_queries_however_many_hits(
    corpus: Study, people: dict[str, User], django_assert_max_num_queries: object
) -> None:
    Document.objects.create(study=corpus, title="Notes", text="Trust. " * 500, sha256="-")
    with django_assert_max_num_queries(3):
        assert len(run(corpus, "trust", people["bob"], role="coder")) == 500
    with django_assert_max_num_queries(5):
        run(corpus, "explain", people["bob"], role="coder", code=code(corpus, "Concept"))
