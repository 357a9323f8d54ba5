"""The table registry: every table is one exporter, and the export page, the API, `manage.py
export` and the paper pack all offer exactly the registry's tables, with its options.

On the demo study (`demo` in conftest): Alice owns it, Bob and Chloe code, Victor views, and
Mallory is a user of the site who is not a member.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from exports.base import FIGURE_FORMATS, LABELLED_FORMATS, ExportError
from exports.management.commands.export import Command
from exports.pack import pack_items
from exports.renderers import RENDERERS, render
from exports.tables import EXPORTERS, OPTIONS, TABLES, table_sources
from studies.models import Study
from surveys.models import Answer, Option, Question, Response, Survey
from tests.helpers import client_for

TABLE_FORMATS = [fmt for fmt in RENDERERS if fmt not in (*FIGURE_FORMATS, *LABELLED_FORMATS)]
SIGNATURES = {
    "xlsx": b"PK",
    "png": b"\x89PNG",
    "pdf": b"%PDF",
    "sav": b"$FL2",
    "dta": b"<stata_dta>",
}


def demo_wave(demo: Study) -> str:
    """The slug of a later wave of a survey of the demo, which every survey table can be made
    of: the demo's own when it has one, else two small waves answered by three participants."""
    later = Survey.objects.filter(study=demo, wave_of__isnull=False).first()
    if later is not None:
        return later.slug
    earlier = None
    for slug, scores in (("pre-check", "adn"), ("post-check", "nas")):
        survey = Survey.objects.create(study=demo, slug=slug, title=slug, wave_of=earlier)
        trust = Question.objects.create(survey=survey, code="trust", kind="likert5", label="T")
        for order, code in enumerate("sdnab"):
            Option.objects.create(question=trust, code=code, label=code.upper(), order=order)
        for participant, score in zip(demo.participants.order_by("code"), scores, strict=False):
            response = Response.objects.create(
                survey=survey, participant=participant, submitted_at=timezone.now()
            )
            Answer.objects.create(response=response, question=trust, value=score)
        earlier = survey
    return "post-check"


def survey_option(exporter: object, slug: str) -> dict[str, str]:
    return {"survey": slug} if exporter.reads("survey") else {}


def person(name: str | None) -> User | None:
    return User.objects.get(username=name) if name else None


def api_url(name: str, fmt: str | None = None, slug: str = "demo") -> str:
    if fmt is None:
        return f"/api/v1/studies/{slug}/exports/{name}/"
    return f"/api/v1/studies/{slug}/exports/{name}.{fmt}"


# The registry ------------------------------------------------------------------------------------


def test_every_exporter_declares_what_the_callers_read() -> None:
    assert tuple(EXPORTERS) == TABLES
    for name, exporter in EXPORTERS.items():
        assert exporter.identifier == name
        assert exporter.verbose_name
        assert set(exporter.options) <= set(OPTIONS), name
        assert ("layer" in exporter.options) == exporter.reads_codings, name
        assert bool(exporter.measures) == exporter.reads("measure"), name
        if exporter.default_by:
            assert exporter.reads("by"), name


def test_every_exporter_builds_on_the_demo_and_renders_to_every_format(demo: Study) -> None:
    sources = table_sources(demo)  # one study and layer, read once for every table
    wave = demo_wave(demo)
    for name, exporter in EXPORTERS.items():
        table = exporter.build(sources, **survey_option(exporter, wave))
        assert table.name == name
        assert table.meta["table"] == name
        assert (table.meta["checksum"] is not None) == exporter.reads_codings, name
        assert (table.meta["layer"] is not None) == exporter.reads_codings, name
        formats = TABLE_FORMATS + (list(FIGURE_FORMATS) if exporter.has_figure else [])
        if table.labelled is not None:
            formats += LABELLED_FORMATS
        else:
            for fmt in LABELLED_FORMATS:
                with pytest.raises(ExportError, match=f"cannot be written as .{fmt}"):
                    render(table, fmt)
        for fmt in formats:
            filename, content_type, content = render(table, fmt, size="single", bom=False)
            assert filename.startswith(f"demo_{name}") and filename.endswith(f".{fmt}"), filename
            assert content_type == RENDERERS[fmt].content_type
            assert content.startswith(SIGNATURES.get(fmt, b"")), (name, fmt)
            if fmt == "json":
                assert json.loads(content)["table"] == name
            elif fmt == "svg":
                assert b"<svg" in content[:500]
            elif fmt not in SIGNATURES:
                assert content.strip(), (name, fmt)
        if not exporter.has_figure:
            with pytest.raises(ExportError, match=f"The {name} table has no figure"):
                render(table, "png")


def test_a_table_ignores_the_options_it_does_not_read(demo: Study) -> None:
    sources = table_sources(demo)
    codebook = EXPORTERS["codebook"].build(sources, by="workshop", measure="minutes", rollup=True)
    assert codebook.meta["by"] is None
    assert codebook.meta["measure"] is None
    assert codebook.meta["rollup"] is False
    assert render(codebook, "csv")[0] == "demo_codebook.csv"
    with pytest.raises(ExportError, match="Unknown measure 'participants': use segments, jaccard"):
        EXPORTERS["cooccurrence"].build(sources, measure="participants")
    crosstab = EXPORTERS["crosstab"].build(sources)
    assert crosstab.meta["by"] == EXPORTERS["crosstab"].default_by == "country"


# Everyone offers the registry's tables -----------------------------------------------------------


def test_the_page_lists_the_registry_and_hides_what_each_table_does_not_read(
    demo: Study,
) -> None:
    html = client_for(person("victor")).get(reverse("exports:page", args=["demo"])).content
    html = html.decode()
    select = html.split('id="exp-table"', 1)[1].split("</select>", 1)[0]
    offered = re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', select)
    assert offered == [(name, e.verbose_name) for name, e in EXPORTERS.items()]
    for name, exporter in EXPORTERS.items():
        rule = re.search(
            rf'option\[value="{name}"\]:checked\) :is\(([^)]*)\) {{ display: none; }}', html
        )
        hidden = set(re.findall(r"\.exp-opt-(\w+)", rule.group(1))) if rule else set()
        unread = {o for o in OPTIONS if not exporter.reads(o)}
        assert hidden == unread | ({"figure"} if not exporter.has_figure else set()), name


def test_the_api_serves_every_table_of_the_registry_and_its_schema_says_so(
    demo: Study,
) -> None:
    victor = client_for(person("victor"))
    alice = client_for(person("alice"))  # individual survey responses are an owner's
    wave = demo_wave(demo)
    for name, exporter in EXPORTERS.items():
        member = alice if exporter.individual else victor
        response = member.get(api_url(name), survey_option(exporter, wave))
        assert response.status_code == 200, (name, response.content[:200])
        assert response.json()["table"] == name
    unknown = victor.get(api_url("pie"))
    assert unknown.status_code == 400
    assert "pie" in unknown.json()["table"][0]

    schema = client_for(person("victor")).get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/v1/studies/{slug}/exports/{name}/",
        "/api/v1/studies/{slug}/exports/{name}.{fmt}",
    ):
        parameters = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        # drf-spectacular sorts enums
        assert sorted(parameters["name"]["schema"]["enum"]) == sorted(TABLES), path
        measures = parameters["measure"]["schema"]["enum"]
        assert set(measures) == {m for e in EXPORTERS.values() for m in e.measures}
        assert "top" in parameters


def test_the_command_and_the_pack_offer_every_table_of_the_registry(
    demo: Study, tmp_path: Path
) -> None:
    parser = Command().create_parser("manage.py", "export")
    [table_option] = [action for action in parser._actions if action.dest == "table"]
    assert tuple(table_option.choices) == TABLES
    wave = demo_wave(demo)
    for name, exporter in EXPORTERS.items():
        path = tmp_path / f"{name}.json"
        survey = ["--survey", wave] if exporter.reads("survey") else []
        call_command(
            "export", "--study", "demo", "--table", name, *survey, "--format", "json",
            "-o", str(path), stdout=io.StringIO(),
        )  # fmt: skip
        assert json.loads(path.read_bytes())["table"] == name
    assert {item.name for item in pack_items(demo)} == set(TABLES)


# The API reads the options as the page does ---------------------------------------------------


def quote_ranks(response_json: dict) -> dict[str, int]:
    """The most quotes any code got."""
    rank = response_json["columns"].index("rank")
    code = response_json["columns"].index("code_path")
    most: dict[str, int] = {}
    for row in response_json["rows"]:
        most[row[code]] = max(most.get(row[code], 0), row[rank])
    return most


def test_the_api_honours_top_for_quotes(demo: Study) -> None:
    victor = client_for(person("victor"))
    one = victor.get(api_url("quotes"), {"top": "1"})
    assert one.status_code == 200
    assert set(quote_ranks(one.json()).values()) == {1}
    five = victor.get(api_url("quotes"), {"top": "5"})
    assert max(quote_ranks(five.json()).values()) == 5
    assert len(five.json()["rows"]) > len(one.json()["rows"])

    as_file = victor.get(api_url("quotes", "csv"), {"top": "1"})
    assert as_file.status_code == 200
    rows = list(csv.DictReader(io.StringIO(as_file.content.decode("utf-8"))))
    assert {row["rank"] for row in rows} == {"1"}

    bad = victor.get(api_url("quotes"), {"top": "lots"})
    assert bad.status_code == 400
    assert "Quotes per code must be a whole number" in bad.json()["detail"]


def test_a_figure_comes_through_the_api_with_its_type_and_name(demo: Study) -> None:
    victor = client_for(person("victor"))
    query = {"by": "country", "measure": "participant_share", "figure": "bars", "bom": "1"}
    response = victor.get(api_url("crosstab", "svg"), query)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Content-Disposition"] == (
        'attachment; filename="demo_crosstab_country_participant_share.svg"'
    )
    no_figure = victor.get(api_url("quotes", "png"))
    assert no_figure.status_code == 400
    assert "The quotes table has no figure" in no_figure.json()["detail"]


# Access comes first ------------------------------------------------------------------------------


def test_an_outsider_gets_404_from_the_api_whatever_else_is_wrong(demo: Study) -> None:
    mallory = client_for(person("mallory"))
    for url, query in [
        (api_url("crosstab", "bad"), {}),
        (api_url("pie", "bad"), {}),
        (api_url("pie"), {}),
        (api_url("quotes"), {"top": "lots", "figure": "radar", "layer": "chloe"}),
        (api_url("crosstab", "csv"), {"by": "variable:shoe size"}),
        (api_url("crosstab", "bad", slug="no-such-study"), {}),
    ]:
        assert mallory.get(url, query).status_code == 404, url


def test_anonymous_requests_get_401_or_403_from_the_api(demo: Study) -> None:
    anonymous = client_for(None)
    for url in (api_url("crosstab", "bad"), api_url("pie"), api_url("crosstab", "csv")):
        assert anonymous.get(url).status_code in (401, 403), url


def test_a_member_asking_for_a_bad_format_is_told_which(demo: Study) -> None:
    response = client_for(person("victor")).get(api_url("crosstab", "bad"))
    assert response.status_code == 400
    assert "bad" in response.json()["format"][0]


def test_an_outsider_gets_404_from_the_downloads_whatever_else_is_wrong(demo: Study) -> None:
    mallory = client_for(person("mallory"))
    for fmt, query in [("bad", {}), ("csv", {"table": "pie"}), ("csv", {"top": "lots"})]:
        url = reverse("exports:download", args=["demo", fmt])
        assert mallory.get(url, query).status_code == 404, (fmt, query)
    anonymous = client_for(None).get(reverse("exports:download", args=["demo", "bad"]))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
