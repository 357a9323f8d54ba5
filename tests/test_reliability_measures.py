"""The agreement measures against published test vectors, and their undefined cases."""

from __future__ import annotations

import numpy as np
import pytest

from coding.reliability import Columns, alpha_verdict, measure

NAN = np.nan


def krippendorff_alpha(matrix):
    return Columns.of(matrix).krippendorff_alpha()


def cohen_kappa(first, second):
    return Columns.of([first, second]).cohen_kappa()


def fleiss_kappa(table):
    """Fleiss' kappa of a units x categories table of counts, as a matrix of raters x units."""
    table = np.asarray(table)
    columns = [np.repeat(np.arange(table.shape[1]), row) for row in table]
    return Columns.of(np.array(columns).T).fleiss_kappa()


def percent_agreement(matrix):
    return Columns.of(matrix).percent_agreement()


def test_krippendorff_alpha_matches_the_packages_nominal_example() -> None:
    # The krippendorff package's README example: three coders, fifteen units, missing data.
    data = np.array(
        [
            [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
            [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
            [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
        ]
    )
    value, note = krippendorff_alpha(data)
    assert value == pytest.approx(0.691358, abs=1e-6)
    assert note == ""


def test_cohen_kappa_matches_scikit_learns_first_case() -> None:
    # scikit-learn's test_cohen_kappa: kappa = 8/23.
    first = [0] * 40 + [1] * 60
    second = [0] * 20 + [1] * 20 + [0] * 10 + [1] * 50
    value, _ = cohen_kappa(first, second)
    assert value == pytest.approx(8 / 23)
    assert cohen_kappa(second, first)[0] == value


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        ([0] * 52 + [1] * 32 + [2] * 16, 0.8013),
        ([0] * 50 + [1] * 40 + [2] * 10, 0.9315),
    ],
)
def test_cohen_kappa_matches_scikit_learns_three_category_cases(second, expected) -> None:
    first = [0] * 46 + [1] * 44 + [2] * 10
    assert cohen_kappa(first, second)[0] == pytest.approx(expected, abs=1e-4)


def test_fleiss_kappa_matches_the_statsmodels_example() -> None:
    # Fleiss' (1971) style table used in statsmodels' tests: 10 subjects, 14 raters.
    table = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    value, _ = fleiss_kappa(table)
    assert value == pytest.approx(0.2099, abs=1e-4)


def test_percent_agreement_uses_units_every_coder_judged() -> None:
    data = np.array([[1, 0, 1, NAN], [1, 1, 1, 0]])
    assert percent_agreement(data) == pytest.approx(2 / 3)


def test_a_code_nobody_used_has_no_kappa_or_alpha_and_says_why() -> None:
    result = measure(Columns.of(np.zeros((2, 10))), code_id=1, path="Concept/humanity")
    assert result.percent_agreement == 1.0
    assert result.cohen_kappa is None
    assert result.krippendorff_alpha is None
    assert result.coded_units == 0
    assert "no coder applied this code in these units" in result.notes
    assert any(n.startswith("Cohen's kappa: undefined") for n in result.notes)


def test_perfect_agreement_on_one_category_is_null_not_one() -> None:
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) == (
        None,
        "undefined: both coders put every unit in the same category",
    )
    assert fleiss_kappa(np.array([[0, 3], [0, 3]]))[0] is None
    assert krippendorff_alpha(np.ones((3, 4)))[0] is None


def test_three_coders_get_fleiss_not_cohen() -> None:
    data = np.array([[1, 0, 1, 0, 1], [1, 0, 1, 1, 1], [1, 0, 0, 0, 1]])
    result = measure(Columns.of(data), code_id=1, path="x")
    assert result.cohen_kappa is None
    assert result.fleiss_kappa is not None
    assert result.percent_agreement == pytest.approx(3 / 5)


@pytest.mark.parametrize(
    ("value", "verdict"),
    [(0.85, "reliable"), (0.8, "reliable"), (0.7, "tentative"), (0.5, "unreliable"), (None, None)],
)
def test_alpha_is_judged_against_krippendorffs_thresholds(value, verdict) -> None:
    assert alpha_verdict(value) == verdict


def random_presence(rng: np.random.Generator, coders: int, units: int) -> np.ndarray:
    """Presence data as a study has it: mostly absent, some present, some missing."""
    data = (rng.random((coders, units)) < 0.3).astype(float)
    data[rng.random((coders, units)) < 0.15] = NAN
    return data


@pytest.mark.parametrize("seed", range(6))
def test_alpha_equals_the_krippendorff_package_on_random_data(seed: int) -> None:
    import krippendorff

    rng = np.random.default_rng(seed)
    coders = 2 + seed % 3
    data = random_presence(rng, coders, 200)
    if seed % 2:
        data = np.where(np.isnan(data), NAN, rng.integers(0, 4, data.shape)).astype(float)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert krippendorff_alpha(data)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("coders", [2, 3])
def test_pooling_distinct_columns_equals_measuring_the_whole_matrix(coders: int) -> None:
    # A pooled matrix measured whole, against its parts kept as distinct columns and joined.
    rng = np.random.default_rng(coders)
    parts = [random_presence(rng, coders, n) for n in (50, 120, 1, 0, 300)]
    whole = measure(Columns.of(np.concatenate(parts, axis=1)), code_id=None, path="overall")
    joined = Columns.joined([Columns.of(part) for part in parts])
    assert joined.units == 471
    assert joined.counts.size <= 3**coders
    pooled = measure(joined, code_id=None, path="overall")
    assert pooled.units == whole.units
    assert pooled.coded_units == whole.coded_units
    assert pooled.notes == whole.notes
    kappa = "cohen_kappa" if coders == 2 else "fleiss_kappa"
    for name in ("percent_agreement", kappa, "krippendorff_alpha"):
        assert getattr(whole, name) is not None, name
        assert getattr(pooled, name) == pytest.approx(getattr(whole, name), rel=1e-12), name
    # And the whole matrix, unit by unit, with its own independent formulas.
    matrix = np.concatenate(parts, axis=1)
    complete = matrix[:, ~np.isnan(matrix).any(axis=0)]
    assert whole.percent_agreement == pytest.approx((complete == complete[0]).all(axis=0).mean())


def test_many_coders_are_measured_the_same_way() -> None:
    # Forty coders' columns do not fit one 64-bit key each; they are compared column by column.
    import krippendorff

    data = random_presence(np.random.default_rng(40), 40, 60)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert krippendorff_alpha(data)[0] == pytest.approx(expected, rel=1e-12)
    assert Columns.of(data).units == 60
