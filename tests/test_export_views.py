"""The export page, its downloads and the paper pack, on the demo study.

The demo's people: Alice owns the study, Bob and Chloe code in it, Victor views it; Mallory is
a user of the site who is not a member.
"""

from __future__ import annotations

import io
import json
import zipfile

import openpyxl
import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from exports import pack as export_pack
from exports.robustness import COLUMNS as ROBUSTNESS_COLUMNS
from exports.robustness import HEADERS as ROBUSTNESS_HEADERS
from studies.models import Study
from tests.helpers import client_for

CROSSTAB = {"table": "crosstab", "by": "country", "measure": "participant_share", "layer": "all"}
COUNTRIES = ("FI", "DE", "GB", "US")


def person(name: str | None) -> User | None:
    return User.objects.get(username=name) if name else None


def page_url(slug: str = "demo") -> str:
    return reverse("exports:page", args=[slug])


def download_url(fmt: str, slug: str = "demo") -> str:
    return reverse("exports:download", args=[slug, fmt])


def pack_url(slug: str = "demo") -> str:
    return reverse("exports:pack", args=[slug])


def blind(study: Study, on: bool = True) -> None:
    study.blind_coding = on
    study.save(update_fields=["blind_coding"])


# Who may export ----------------------------------------------------------------------------------


def test_the_page_is_for_members_only(demo: Study) -> None:
    anonymous = client_for(None).get(page_url())
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert client_for(person("mallory")).get(page_url()).status_code == 404
    for name in ("victor", "bob", "alice"):
        response = client_for(person(name)).get(page_url())
        assert response.status_code == 200, name
        assert "Crosstab: codes by group" in response.content.decode()
    assert client_for(person("alice")).get(page_url("no-such-study")).status_code == 404


def test_downloads_are_for_members_only(demo: Study) -> None:
    url = download_url("csv") + "?table=codebook"
    anonymous = client_for(None).get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert client_for(person("mallory")).get(url).status_code == 404
    for name in ("victor", "bob", "alice"):
        response = client_for(person(name)).get(url)
        assert response.status_code == 200, name
        assert response["Content-Disposition"].startswith("attachment")


def test_the_pack_is_for_members_only(demo: Study, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []

    def fake_pack(study: Study, *, layer: str | None = None, user: object = None, **_) -> bytes:
        asked.append((study.slug, layer, user.get_username()))
        return b"PK-zip"

    monkeypatch.setattr(export_pack, "build_pack", fake_pack)
    anonymous = client_for(None).post(pack_url())
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert client_for(person("mallory")).post(pack_url()).status_code == 404
    for name in ("victor", "bob", "alice"):
        response = client_for(person(name)).post(pack_url())
        assert response.status_code == 200, name
        assert response.content == b"PK-zip"
    assert asked == [("demo", None, "victor"), ("demo", None, "bob"), ("demo", None, "alice")]


def test_the_pack_downloads_as_a_zip_of_tables_and_figures(demo: Study) -> None:
    response = client_for(person("victor")).post(pack_url())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="demo_pack.zip"'
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert "README.md" in names
    assert "tables/demo_crosstab_country_participant_share.csv" in names
    assert any(name.startswith("figures/") and name.endswith(".png") for name in names)


# The page ----------------------------------------------------------------------------------------


def test_the_page_shows_a_crosstab_by_country_and_keeps_the_options(demo: Study) -> None:
    response = client_for(person("alice")).get(page_url(), CROSSTAB)

    assert response.status_code == 200
    html = response.content.decode()
    # The form remembers every choice.
    assert '<option value="crosstab" selected>' in html
    assert '<option value="country" selected>' in html
    assert '<option value="participant_share" selected>' in html
    assert '<option value="all" selected>' in html
    # Groupings offered: the places, each participant variable and each codebook dimension.
    assert '<option value="variable:age band"' in html
    assert '<option value="dimension:Domain"' in html
    # The table: a header per country, with its participants in the roster, and a row per code.
    table = html.split('class="exp-preview"', 1)[1].split("</table>", 1)[0]
    for country, size in zip(COUNTRIES, (12, 12, 12, 24), strict=True):
        assert f">{country} (n={size})</th>" in table
    assert '<th scope="col">Code</th>' in table and "code_path" not in table
    assert "negotiability" in table
    assert "%" in table  # shares read as percentages
    # The figure is the PNG download of the same table.
    query = "table=crosstab&amp;by=country&amp;measure=participant_share&amp;layer=all"
    assert f'src="{download_url("png")}?{query}' in html
    assert 'alt="Figure: ' in html
    for fmt in ("xlsx", "csv", "tex", "md", "json", "png", "svg", "pdf"):
        assert f'href="{download_url(fmt)}?{query}' in html, fmt
    assert f'href="{download_url("csv")}?{query}&amp;size=single&amp;bom=1"' in html
    assert "Download the paper pack (.zip)" in html


def test_a_first_visit_shows_the_crosstab_by_country(demo: Study) -> None:
    html = client_for(person("victor")).get(page_url()).content.decode()

    assert '<option value="country" selected>' in html
    table = html.split('class="exp-preview"', 1)[1].split("</table>", 1)[0]
    assert all(f">{country}</th>" in table for country in COUNTRIES)


def test_a_bad_option_shows_its_message_on_the_page_and_keeps_the_form(demo: Study) -> None:
    response = client_for(person("alice")).get(
        page_url(), {"table": "crosstab", "by": "variable:shoe size", "measure": "participants"}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "shoe size" in html.split('role="alert"', 1)[1]
    assert '<option value="variable:shoe size" selected>' in html
    assert '<option value="participants" selected>' in html
    assert 'class="exp-preview"' not in html


def test_a_bad_option_is_a_400_with_the_message_on_download(demo: Study) -> None:
    response = client_for(person("alice")).get(
        download_url("xlsx"), {"table": "crosstab", "by": "variable:shoe size"}
    )

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "shoe size" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"table": "pie"}, "There is no table “pie”"),
        ({"table": "quotes", "top": "lots"}, "Quotes per code must be a whole number"),
        ({"table": "crosstab", "figure": "radar"}, "There is no figure kind “radar”"),
    ],
)
def test_options_the_form_cannot_read_are_reported_too(
    demo: Study, query: dict[str, str], message: str
) -> None:
    alice = client_for(person("alice"))
    page = alice.get(page_url(), query)
    assert page.status_code == 200
    assert message in page.content.decode()
    download = alice.get(download_url("csv"), query)
    assert download.status_code == 400
    assert message in download.content.decode()


def test_an_unknown_format_is_a_400(demo: Study) -> None:
    response = client_for(person("alice")).get(download_url("odt"), {"table": "codebook"})
    assert response.status_code == 400
    assert "There is no format “odt”" in response.content.decode()


def test_options_a_table_does_not_read_are_ignored_with_a_note(demo: Study) -> None:
    response = client_for(person("alice")).get(
        page_url(), {"table": "codebook", "by": "workshop", "measure": "documents"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Grouping, Measure do not apply to this table and were ignored." in html
    # The downloads ask for the codebook alone.
    assert f'href="{download_url("csv")}?table=codebook"' in html


def test_the_study_navigation_leads_to_exports(demo: Study) -> None:
    html = client_for(person("victor")).get(reverse("studies:overview", args=["demo"]))
    assert f'href="{page_url()}"' in html.content.decode()
    current = client_for(person("victor")).get(page_url()).content.decode()
    assert f'<a href="{page_url()}" aria-current="page">Exports</a>' in current


# Every format ------------------------------------------------------------------------------------

FORMATS = [
    ("xlsx", {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("csv", {}, "text/csv; charset=utf-8"),
    ("csv", {"bom": "1"}, "text/csv; charset=utf-8"),
    ("tex", {}, "application/x-tex; charset=utf-8"),
    ("md", {}, "text/markdown; charset=utf-8"),
    ("json", {}, "application/json"),
    ("png", {}, "image/png"),
    ("svg", {}, "image/svg+xml"),
    ("pdf", {}, "application/pdf"),
]


def test_every_format_downloads_with_its_type_and_name(demo: Study) -> None:
    victor = client_for(person("victor"))
    for fmt, extra, content_type in FORMATS:
        response = victor.get(download_url(fmt), {**CROSSTAB, **extra})

        assert response.status_code == 200, (fmt, response.content[:200])
        assert response["Content-Type"] == content_type, fmt
        filename = f"demo_crosstab_country_participant_share.{fmt}"
        assert response["Content-Disposition"] == f'attachment; filename="{filename}"', fmt
        content = response.content
        if fmt == "xlsx":
            sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
            header = next(sheet.iter_rows(max_row=1, values_only=True))
            sizes = ("DE (n=12)", "FI (n=12)", "GB (n=12)", "US (n=24)", "Total (n=60)")
            # Each code's figures of exports.robustness follow the groups and the total.
            readable = [ROBUSTNESS_HEADERS[column] for column in ROBUSTNESS_COLUMNS]
            assert header == ("Code", *sizes, *readable), header
        elif fmt == "csv":
            has_bom = content.startswith(b"\xef\xbb\xbf")
            assert has_bom == bool(extra), "a BOM only when asked for"
            assert b"code_path" in content.split(b"\n", 1)[0]
        elif fmt == "json":
            assert json.loads(content)
        elif fmt == "png":
            assert content.startswith(b"\x89PNG")
        elif fmt == "svg":
            assert b"<svg" in content[:500]
        elif fmt == "pdf":
            assert content.startswith(b"%PDF")
        else:
            assert "negotiability" in content.decode()


# Blind coding ------------------------------------------------------------------------------------


def test_under_blind_coding_a_coder_exports_their_own_codings(demo: Study) -> None:
    blind(demo)
    bob = client_for(person("bob"))

    page = bob.get(page_url(), {"table": "frequencies"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "Blind coding is on, so you export your own codings only." in html
    layer_select = html.split('id="exp-layer"', 1)[1].split("</select>", 1)[0]
    assert '<option value="bob" selected>' in layer_select
    assert "chloe" not in layer_select and "consensus" not in layer_select
    # Downloads and the pack carry the layer, so they ask for the same codings.
    assert (
        f'href="{download_url("csv")}?table=frequencies&amp;measure=segments&amp;layer=bob' in html
    )
    pack_form = html.split(f'action="{pack_url()}"', 1)[1].split("</form>", 1)[0]
    assert '<input type="hidden" name="layer" value="bob">' in pack_form
    download = bob.get(download_url("json"), {"table": "frequencies", "layer": "bob"})
    assert download.status_code == 200
    assert json.loads(download.content)["meta"]["layer"] == "bob"


@pytest.mark.parametrize("layer", ["all", "consensus", "chloe"])
def test_under_blind_coding_a_coder_may_not_choose_another_layer(demo: Study, layer: str) -> None:
    blind(demo)
    bob = client_for(person("bob"))
    query = {"table": "frequencies", "layer": layer}

    assert bob.get(page_url(), query).status_code == 403
    assert bob.get(download_url("csv"), query).status_code == 403
    assert bob.post(pack_url(), {"layer": layer}).status_code == 403


def test_under_blind_coding_owners_and_viewers_choose_any_layer(demo: Study) -> None:
    blind(demo)
    query = {"table": "frequencies", "layer": "chloe"}
    for name in ("alice", "victor"):
        client = client_for(person(name))
        page = client.get(page_url(), query)
        assert page.status_code == 200, name
        assert '<option value="chloe" selected>' in page.content.decode()
        assert client.get(download_url("csv"), {**query, "layer": "all"}).status_code == 200


def test_without_blind_coding_a_coder_chooses_any_layer(demo: Study) -> None:
    bob = client_for(person("bob"))
    page = bob.get(page_url(), {"table": "frequencies", "layer": "chloe"})
    assert page.status_code == 200
    html = page.content.decode()
    assert '<option value="chloe" selected>' in html
    assert '<option value="consensus"' in html


def test_a_table_downloads_as_a_landscape_word_table(demo: Study) -> None:
    from docx import Document as WordDocument
    from docx.enum.section import WD_ORIENT

    response = client_for(person("victor")).get(download_url("docx"), CROSSTAB)
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.docx"')
    word = WordDocument(io.BytesIO(response.content))
    assert word.sections[0].orientation == WD_ORIENT.LANDSCAPE
    header = [cell.text for cell in word.tables[0].rows[0].cells]
    assert header[:2] == ["Code", "DE (n=12)"]
