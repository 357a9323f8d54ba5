"""The one span index (studies.spans) and the one code tree (coding.models.CodeTree)."""

from __future__ import annotations

import random

import pytest

from coding.models import Code, CodeTree, code_paths
from coding.services import create_code, descendant_ids, tree_order
from studies.models import Study
from studies.spans import DocumentSpans, SpanIndex


def brute_overlapping(spans: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    return sorted(s for s in spans if s[0] < end and start < s[1])


@pytest.mark.parametrize("nested", [False, True])
def test_overlapping_agrees_with_a_scan_of_every_span(nested: bool) -> None:
    rng = random.Random(7)
    if nested:  # codings: any lengths, overlapping and nesting
        spans = [(s, s + rng.randint(1, 80)) for s in (rng.randint(0, 500) for _ in range(300))]
    else:  # sentences: one after another
        cuts = sorted(rng.sample(range(1, 1000), 60))
        spans = list(zip([0, *cuts], [*cuts, 1000], strict=True))
    index = SpanIndex.of(spans)
    for _ in range(500):
        start = rng.randint(0, 999)
        end = start + rng.randint(1, 60)
        assert sorted(index.overlapping(start, end)) == brute_overlapping(spans, start, end)
        assert index.overlaps(start, end) == bool(brute_overlapping(spans, start, end))


def test_touching_spans_do_not_overlap() -> None:
    index = SpanIndex.of([(0, 5), (5, 9)])
    assert index.overlapping(5, 9) == [(5, 9)]
    assert index.overlapping(4, 5) == [(0, 5)]
    assert index.overlapping(9, 12) == []


def test_containing_and_covering_find_the_units_of_a_hit() -> None:
    sentences = SpanIndex((s, e, i) for i, (s, e) in enumerate([(0, 10), (11, 20), (21, 30)]))
    assert sentences.containing(12, 15) == 1
    assert sentences.containing(8, 12) is None  # across two sentences
    assert sentences.covering(8, 12) == (0, 20)
    assert sentences.covering(10, 11) is None  # the space between two sentences
    assert sentences.covering(25, 26) == (21, 30)


def test_document_spans_keep_documents_apart() -> None:
    turns = DocumentSpans([(1, 0, 10, "P01"), (2, 0, 10, "P02"), (1, 10, 20, "P03")])
    assert turns.overlapping(1, 5, 15) == ["P01", "P03"]
    assert turns.overlapping(2, 5, 15) == ["P02"]
    assert turns.overlapping(3, 0, 100) == []
    assert not turns.of(3).overlaps(0, 100)


@pytest.fixture
def codebook(study: Study) -> dict[str, Code]:
    concept = create_code(study=study, name="Concept", codable=False)
    domain = create_code(study=study, name="Domain", codable=False)
    negotiability = create_code(study=study, name="negotiability", parent=concept)
    return {
        "Concept": concept,
        "Domain": domain,
        "negotiability": negotiability,
        "appeal": create_code(study=study, name="appeal", parent=negotiability),
        "accuracy": create_code(study=study, name="accuracy", parent=concept),
        "hiring": create_code(study=study, name="hiring", parent=domain),
    }


def test_the_code_tree_gives_paths_order_depth_and_subtrees(
    study: Study, codebook: dict[str, Code], django_assert_num_queries: object
) -> None:
    with django_assert_num_queries(1):
        tree = CodeTree.of(study)
    ids = {name: code.pk for name, code in codebook.items()}
    assert tree.path[ids["appeal"]] == "Concept/negotiability/appeal"
    assert [(tree.name[pk], depth) for pk, depth in tree.walk()] == [
        ("Concept", 0),
        ("negotiability", 1),
        ("appeal", 2),
        ("accuracy", 1),
        ("Domain", 0),
        ("hiring", 1),
    ]
    assert tree.subtree(ids["Concept"]) == {
        ids["Concept"],
        ids["negotiability"],
        ids["appeal"],
        ids["accuracy"],
    }
    assert descendant_ids(codebook["negotiability"]) == {ids["appeal"]}
    assert tree.dimension(ids["appeal"]) == "Concept"
    assert codebook["appeal"].path == "Concept/negotiability/appeal"
    assert [c.name for c in codebook["appeal"].ancestors()] == ["Concept", "negotiability"]
    assert [(c.name, d) for c, d in tree_order(codebook.values())][:3] == [
        ("Concept", 0),
        ("negotiability", 1),
        ("appeal", 2),
    ]


def test_paths_of_a_partial_list_of_codes_stop_at_what_was_loaded(
    codebook: dict[str, Code],
) -> None:
    paths = code_paths([codebook["negotiability"], codebook["appeal"]])
    assert paths[codebook["appeal"].pk] == "negotiability/appeal"
