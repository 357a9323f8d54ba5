"""Significance tests for count tables, as one sentence to print under the table.

Rule: a chi-square test of independence when every expected count is at least 5; otherwise
Fisher's exact test when the table is 2 x 2; otherwise a sentence saying neither is valid.
Rows and columns that are all zero are left out first (they carry no information and would
make expected counts of zero).

scipy is imported when a test is computed: it takes longer to load than the tables themselves.
"""

from __future__ import annotations

import numpy as np


def _format_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def significance_note(counts: np.ndarray | list[list[float]]) -> str:
    """The test's result or the reason it is not reported, for a codes x groups table."""
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2:
        return "Chi-square not reported: the counts are not a two-way table."
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    rows, columns = table.shape
    n = round(float(table.sum()))
    if rows < 2 or columns < 2:
        return (
            "Chi-square not reported: the test needs at least two codes and two groups with counts."
        )
    from scipy import stats

    expected = stats.contingency.expected_freq(table)
    small = int((expected < 5).sum())
    if small == 0:
        chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
        return f"Chi-square test of independence: χ²({dof}) = {chi2:.2f}, {_format_p(p)} (n = {n})."
    if (rows, columns) == (2, 2):
        odds, p = stats.fisher_exact(table.astype(int))
        return (
            f"Fisher's exact test (expected counts below 5 rule out chi-square): "
            f"odds ratio = {odds:.2f}, {_format_p(p)} (n = {n})."
        )
    return (
        f"Chi-square not reported: {small} of {expected.size} expected counts are below 5, "
        f"and the table is not 2 x 2 for Fisher's exact test."
    )
