"""The reliability pages: who may see and do what, and the figures of the hand-built case.

The case (the hiring session of tests/conftest.py): Bob and Carol code four sentences. Presence
by sentence, (Bob, Carol):
    negotiability   (1,1) (0,0) (1,0) (1,0)  agreement .500, Cohen's kappa .200, alpha .125
    accuracy        (0,0) (1,0) (0,1) (0,0)  agreement .500, kappa -.333, alpha -.167
    explainability  (0,0) (0,0) (0,0) (1,1)  agreement 1, kappa 1, alpha 1
    humanity        nobody                   agreement 1, kappa and alpha undefined
    pooled over the 16 (unit, code) items: agreement .750, kappa .347, alpha .354
Alpha by hand (nominal, two coders, no missing data): 1 - D_o / D_e with D_o the share of
disagreeing pairable values and D_e = 2 n_0 n_1 / (n (n - 1)).
"""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.urls import reverse

from coding.models import AdjudicationDecision, AgreementRound, Coding
from studies.models import Study
from tests.conftest import Case
from tests.helpers import client_for


def blind(study: Study, on: bool = True) -> None:
    study.blind_coding = on
    study.save(update_fields=["blind_coding"])


def row_text(html: str, header: str) -> str:
    """The text of the table row whose header cell is `header`, tags removed."""
    match = re.search(
        rf"<tr>\s*<th scope=\"row\">{re.escape(header)}</th>(.*?)</tr>", html, re.DOTALL
    )
    assert match, f"no row {header!r}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def reliability_url(**query: str) -> str:
    url = reverse("coding:reliability", args=["adm"])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def compare_url(case: Case, **extra: str) -> str:
    url = reverse("coding:side_by_side", args=["adm", case.document.pk])
    return url + "?" + "&".join(f"{k}={v}" for k, v in {"a": "bob", "b": "carol", **extra}.items())


# The agreement table ------------------------------------------------------------------------------


def test_the_page_shows_the_figures_of_the_hand_built_case(
    case: Case, people: dict[str, User]
) -> None:
    html = client_for(people["alice"]).get(reliability_url()).content.decode()

    assert "2 coders (bob, carol) on 1 document, by sentence" in html
    assert row_text(html, "negotiability") == "4 3 0.500 0.200 — 0.125 unreliable"
    assert row_text(html, "accuracy") == "4 2 0.500 -0.333 — -0.167 unreliable"
    assert row_text(html, "explainability") == "4 1 1.000 1.000 — 1.000 reliable"
    humanity = row_text(html, "humanity")
    assert humanity.startswith("4 0 1.000 — — —")
    assert "no coder applied this code" in humanity
    assert row_text(html, "All codes (pooled)").startswith("16 6 0.750 0.347 — 0.354 unreliable")
    # The help names the measures' sources.
    assert "Krippendorff, K. (2004)" in html
    assert "Landis, J. R. &amp; Koch, G. G. (1977)" in html
    assert 'class="verdict verdict-reliable">reliable<' in html


def test_three_coders_get_fleiss_kappa_instead_of_cohens(
    case: Case, people: dict[str, User]
) -> None:
    # Alice codes negotiability where Bob did: (1,1,1) (0,0,0) (1,0,1) (1,0,1).
    for start, end in [case.unit(1), case.unit(3), case.unit(4)]:
        Coding.objects.create(
            document=case.document,
            code=case.codes["negotiability"],
            coder=people["alice"],
            start=start,
            end=end,
        )

    html = client_for(people["alice"]).get(reliability_url()).content.decode()

    assert "3 coders (alice, bob, carol)" in html
    # Fleiss: P_i = 1, 1, 1/3, 1/3 -> P = 2/3; p_1 = 7/12 -> P_e = 74/144; kappa = 0.314.
    assert row_text(html, "negotiability").startswith("4 3 0.500 — 0.314")


def test_the_unit_and_the_coders_can_be_chosen(case: Case, people: dict[str, User]) -> None:
    html = client_for(people["alice"]).get(reliability_url(unit="turn")).content.decode()
    # By turn: explainability is absent for both in the first turn, present in the second.
    assert row_text(html, "explainability").startswith("2 1 1.000")
    assert "by turn" in html

    alone = client_for(people["alice"]).get(reliability_url(coder="bob")).content.decode()
    assert "agreement needs two or more coders" in alone
    assert "<caption>Agreement per code</caption>" not in alone


def test_a_round_limits_the_figures_to_its_documents_and_coders(
    case: Case, people: dict[str, User]
) -> None:
    agreement_round = AgreementRound.objects.create(study=case.document.study, name="Pilot")
    agreement_round.coders.set([case.bob, case.carol])
    # A round without this document: the figures are over no units.
    html = client_for(people["alice"]).get(reliability_url(round=str(agreement_round.pk)))
    assert "on 0 documents" in html.content.decode()
    agreement_round.documents.set([case.document])
    html = client_for(people["alice"]).get(reliability_url(round=str(agreement_round.pk)))
    assert row_text(html.content.decode(), "negotiability").startswith("4 3 0.500")
    assert client_for(people["alice"]).get(reliability_url(round="999")).status_code == 404


def test_reliability_permission_ladder(case: Case, people: dict[str, User]) -> None:
    url = reliability_url()
    anonymous = client_for(None).get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert client_for(people["mallory"]).get(url).status_code == 404
    for name in ("victor", "bob", "alice"):
        response = client_for(people[name]).get(url)
        assert response.status_code == 200
        assert "0.125" in response.content.decode()


def test_with_blind_coding_on_a_coder_sees_only_a_note(case: Case, people: dict[str, User]) -> None:
    blind(case.document.study)

    for url in (
        reliability_url(),
        reverse("coding:compare", args=["adm"]) + "?a=bob&b=carol",
        compare_url(case),
    ):
        html = client_for(people["bob"]).get(url).content.decode()
        assert "reliability is available to the study's owners and viewers only" in html
        assert "carol" not in html
        assert "0.125" not in html and "machine never" not in html
        # Owners and viewers still see it all.
        assert (
            "reliability is available" not in client_for(people["alice"]).get(url).content.decode()
        )
        assert (
            "reliability is available" not in client_for(people["victor"]).get(url).content.decode()
        )


def test_the_navigation_links_to_reliability(case: Case, people: dict[str, User]) -> None:
    html = client_for(people["bob"]).get(reverse("coding:queue", args=["adm"])).content.decode()
    assert f'href="{reliability_url()}"' in html
    assert html.index(">My queue<") < html.index(">Reliability<") < html.index(">Members<")


# Rounds -------------------------------------------------------------------------------------------


def round_form(case: Case, **changes: object) -> dict[str, object]:
    return {
        "name": "Pilot",
        "unit": "sentence",
        "coders": [case.bob.pk, case.carol.pk],
        "scope": "all",
        **changes,
    }


def test_rounds_permission_ladder(case: Case, people: dict[str, User]) -> None:
    url = reverse("coding:rounds", args=["adm"])
    assert client_for(None).get(url)["Location"].startswith("/login/")
    assert client_for(people["mallory"]).get(url).status_code == 404
    for name in ("victor", "bob"):
        page = client_for(people[name]).get(url)
        assert page.status_code == 200
        assert "Start a round" not in page.content.decode()
        assert client_for(people[name]).post(url, round_form(case)).status_code == 403
    assert client_for(people["mallory"]).post(url, round_form(case)).status_code == 404
    assert client_for(None).post(url, round_form(case)).status_code == 302
    assert not AgreementRound.objects.exists()

    owner = client_for(people["alice"])
    assert "Start a round" in owner.get(url).content.decode()
    response = owner.post(url, round_form(case), follow=True)

    html = response.content.decode()
    assert "Round “Pilot” started: 1 document assigned to 2 coders" in html
    agreement_round = AgreementRound.objects.get()
    assert set(agreement_round.coders.values_list("username", flat=True)) == {"bob", "carol"}
    case.document.study.refresh_from_db()
    assert case.document.study.blind_coding is True


def test_a_sampled_round_from_the_form_records_its_seed(
    case: Case, people: dict[str, User]
) -> None:
    url = reverse("coding:rounds", args=["adm"])
    response = client_for(people["alice"]).post(
        url, round_form(case, scope="sample", share="50", seed="77"), follow=True
    )

    agreement_round = AgreementRound.objects.get()
    assert (agreement_round.sample_share, agreement_round.seed) == (0.5, 77)
    assert "50% drawn with seed <code>77</code>" in response.content.decode()


def test_the_round_form_explains_what_is_wrong(case: Case, people: dict[str, User]) -> None:
    url = reverse("coding:rounds", args=["adm"])
    owner = client_for(people["alice"])

    response = owner.post(url, round_form(case, coders=[case.bob.pk], scope="sample"))

    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose at least two coders." in html
    assert "Give the share of documents to sample." in html
    owner.post(url, round_form(case))
    again = owner.post(url, round_form(case, name="Main"))
    assert "The round “Pilot” is still open: close it first." in again.content.decode()
    assert AgreementRound.objects.count() == 1


def test_closing_a_round_is_for_owners_and_restores_blind_coding(
    case: Case, people: dict[str, User]
) -> None:
    client_for(people["alice"]).post(reverse("coding:rounds", args=["adm"]), round_form(case))
    agreement_round = AgreementRound.objects.get()
    url = reverse("coding:round_close", args=["adm", agreement_round.pk])

    assert client_for(None).post(url)["Location"].startswith("/login/")
    assert client_for(people["mallory"]).post(url).status_code == 404
    assert client_for(people["bob"]).post(url).status_code == 403
    assert client_for(people["victor"]).post(url).status_code == 403
    assert client_for(people["alice"]).get(url).status_code == 405
    agreement_round.refresh_from_db()
    assert agreement_round.is_open

    response = client_for(people["alice"]).post(url, follow=True)

    assert "Round “Pilot” closed; blind coding is off again, as before it." in (
        response.content.decode()
    )
    case.document.study.refresh_from_db()
    assert case.document.study.blind_coding is False


# Side by side -------------------------------------------------------------------------------------


def test_side_by_side_permission_ladder(case: Case, people: dict[str, User]) -> None:
    url = compare_url(case)
    assert client_for(None).get(url)["Location"].startswith("/login/")
    assert client_for(people["mallory"]).get(url).status_code == 404
    for name in ("victor", "bob"):
        page = client_for(people[name]).get(url)
        assert page.status_code == 200
        assert "Take A" not in page.content.decode()  # read-only
    assert "Take A" in client_for(people["alice"]).get(url).content.decode()

    start, end = case.unit(2)
    decision = {"start": start, "end": end, "code": case.codes["accuracy"].pk, "decision": "a"}
    assert client_for(None).post(url, decision).status_code == 302
    assert client_for(people["mallory"]).post(url, decision).status_code == 404
    assert client_for(people["bob"]).post(url, decision).status_code == 403
    assert client_for(people["victor"]).post(url, decision).status_code == 403
    assert not AdjudicationDecision.objects.exists()

    response = client_for(people["alice"]).post(url, decision)

    assert response.status_code == 302
    assert response["Location"] == f"{url}&unit=sentence#u-{start}"
    assert AdjudicationDecision.objects.get().decision == "a"


def test_side_by_side_marks_the_differing_units(case: Case, people: dict[str, User]) -> None:
    html = client_for(people["alice"]).get(compare_url(case)).content.decode()

    assert html.count('class="sbs-unit differs"') == 3
    assert html.count('<span class="sbs-flag">differs</span>') == 3
    assert "0 of 4 disagreements decided" in html
    assert "Aino" in html and "Eero" in html  # grouped by speaker turn

    only = client_for(people["alice"]).get(
        compare_url(case, only="1", code=str(case.codes["accuracy"].pk))
    )
    html = only.content.decode()
    assert html.count('class="sbs-unit"') == 0  # agreeing units hidden
    assert html.count('class="sbs-unit differs"') == 2
    assert "I want a person." not in html


def test_deciding_from_the_page_shows_the_decision_and_the_progress(
    case: Case, people: dict[str, User]
) -> None:
    url = compare_url(case)
    start, end = case.unit(3)
    owner = client_for(people["alice"])

    response = owner.post(
        url,
        {"start": start, "end": end, "code": case.codes["accuracy"].pk, "decision": "b"},
        follow=True,
    )

    html = response.content.decode()
    assert "accuracy: took carol&#x27;s coding in this sentence." in html
    assert "Decided: took B (carol), by alice" in html
    assert "1 of 4 disagreements decided" in html
    consensus = Coding.objects.get(consensus=True)
    assert case.document.text[consensus.start : consensus.end] == "accurate"


def test_a_post_for_a_span_that_is_not_a_unit_is_refused(
    case: Case, people: dict[str, User]
) -> None:
    response = client_for(people["alice"]).post(
        compare_url(case),
        {"start": 0, "end": 7, "code": case.codes["accuracy"].pk, "decision": "a"},
    )
    assert response.status_code == 404
    assert not AdjudicationDecision.objects.exists()


def test_accept_all_agreements_from_the_page(case: Case, people: dict[str, User]) -> None:
    response = client_for(people["alice"]).post(
        compare_url(case), {"action": "accept"}, follow=True
    )

    assert "Accepted 2 agreements into the consensus layer." in response.content.decode()
    assert Coding.objects.filter(consensus=True).count() == 2


def test_the_document_list_shows_each_documents_progress(
    case: Case, people: dict[str, User]
) -> None:
    url = reverse("coding:compare", args=["adm"])
    assert client_for(None).get(url)["Location"].startswith("/login/")
    assert client_for(people["mallory"]).get(url).status_code == 404
    assert client_for(people["alice"]).get(url + "?a=bob&b=nobody").status_code == 404

    html = client_for(people["victor"]).get(url + "?a=bob&b=carol").content.decode()

    assert "Hiring session" in html
    assert "0 of 4 disagreements decided" in html
    assert compare_url(case, unit="sentence").split("?")[0] in html


def test_the_comparison_starts_with_the_two_people_who_coded(demo: Study) -> None:
    alice = User.objects.get(username="alice")
    response = client_for(alice).get(reverse("coding:compare", args=["demo"]))
    assert [p.get_username() for p in response.context["pair"]] == ["bob", "chloe"]
    assert len(response.context["rows"]) == 5
