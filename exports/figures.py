"""Figures for papers: an annotated heatmap (crosstabs, co-occurrence), grouped bars and stacked
bars, drawn from a table's tidy form (code_path x group -> value); and for a survey's results
table (`exports.survey_tables`): Likert items as diverging stacked bars, a matrix's rows as a
heatmap of shares, a ranking's options as mean-rank bars.

Decisions, made once for every figure:
- matplotlib's object-oriented `Figure` API on the Agg canvas, never pyplot: no global figure
  state, nothing to close, safe in a web worker.
- Widths for one-column (3.5 in) and two-column (7.2 in) papers; the height follows the number of
  rows. Constrained layout fits labels inside that width and `bbox_inches="tight"` is the safety
  net that nothing is cut off (it only trims, so a figure is never wider than asked).
- Colour that survives colour-vision deficiency and greyscale printing: the Okabe-Ito palette for
  bars, "cividis" (perceptually uniform, designed for colour-blind readers) for heatmaps, and each
  heatmap cell's value written in black or white, whichever contrasts more with the cell.
- PNG at 300 dpi. SVG keeps text as text (`svg.fonttype: "none"`): labels stay searchable and
  editable in Illustrator or Inkscape, at the price of depending on the reader's fonts (DejaVu
  Sans, falling back to any sans-serif). PDF embeds its fonts as TrueType (`pdf.fonttype: 42`),
  which journals accept and which stays editable, unlike the default Type 3.
- Reproducible bytes: no creation dates in SVG or PDF and a fixed SVG id salt, so the same data
  gives the same file.
- Labels are the study's own: the table's title, code names (the path prefix all codes share is
  moved to the axis label), group names; long labels are wrapped, never truncated.
- Diverging Likert bars: the points below the scale's middle extend left of zero, those above
  it right, and the middle point (odd scales) is split half and half across zero; colours from
  "PuOr" (ColorBrewer, safe for colour-vision deficiency) with a grey middle, and the legend names
  every point, so colour is never the only signal. The items are the Likert questions (a
  matrix's rows when there are none: a matrix has its heatmap); one figure shows one scale (the
  one most of the items use), and items on another scale are left out, as its axis says.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot; we draw on Figure objects regardless

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from exports.base import FIGURE_FORMATS, ExportError, ExportTable, group_header

CODE_KINDS = ("heatmap", "bars", "stacked")
SURVEY_KINDS = ("diverging", "matrix", "ranks")
KINDS = CODE_KINDS + SURVEY_KINDS
DIVERGING_CMAP = "PuOr"
NEUTRAL = "#bdbdbd"
LIKERT_KINDS = ("likert5", "likert7")
SIZES = {"single": 3.5, "double": 7.2}  # inches: one column, two columns of a paper
DPI = 300
HEATMAP_CMAP = "cividis"
# Okabe & Ito (2008), in an order whose neighbours differ most; yellow last, as it is faint on
# white, and black after it.
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)
MEASURE_LABELS = {
    "segments": "Coded segments",
    "participants": "Participants",
    "participant_share": "Share of the group's participants",
    "documents": "Documents",
    "words": "Words coded",
}
TOTAL_LABELS = {"total", "totals", "all"}


@dataclass
class FigureData:
    values: pd.DataFrame  # rows: code labels (wrapped), columns: group labels
    percent: bool
    measure_label: str
    row_axis: str  # e.g. "Concept" when every code is under it
    column_axis: str  # e.g. "Country"


# --- From a table to numbers ----------------------------------------------------------------


def _common_prefix(paths: list[str]) -> list[str]:
    """The path segments every code shares, never all of a code's own name."""
    split = [p.split("/") for p in paths]
    prefix: list[str] = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1:
            break
        prefix.append(parts[0])
    shortest = min(len(s) for s in split)
    return prefix[: shortest - 1]


def _short_labels(paths: list[str]) -> tuple[list[str], str]:
    """Code paths without their shared prefix (which becomes the axis label), levels joined by
    " / " so that wrapping can break between them."""
    if not paths or not all("/" in p for p in paths):
        return [p.replace("/", " / ") for p in paths], ""
    prefix = _common_prefix(paths)
    cut = len(prefix)
    labels = [" / ".join(p.split("/")[cut:]) for p in paths]
    return labels, " / ".join(prefix)


def _wrap(label: str, width: int) -> str:
    return "\n".join(textwrap.wrap(label, width=width, break_long_words=True)) or label


def _group_axis(table: ExportTable) -> str:
    by = str(table.meta.get("by") or "")  # none for a code x code table
    name = by.split(":", 1)[-1] if ":" in by else by
    return name[:1].upper() + name[1:] if name else ""


def _unique_labels(labels: list[str]) -> list[str]:
    # Two codes with the same leaf under different parents must stay two rows.
    seen: dict[str, int] = {}
    result = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        result.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return result


def figure_data(table: ExportTable, *, wrap_width: int) -> FigureData:
    """The code x group matrix a figure draws, in the table's own order, without totals."""
    tidy = table.tidy
    needed = {"code_path", "group", "value"}
    if not needed <= set(tidy.columns):
        raise ExportError(
            f"The {table.name} table has no figure: figures draw code-by-group numbers. "
            "Export it as a table instead."
        )
    measure = str(table.meta.get("measure") or "")
    if "measure" in tidy.columns and tidy["measure"].nunique() > 1:
        # One figure shows one measure: the one asked for, else the first.
        measure = measure if measure in set(tidy["measure"]) else str(tidy["measure"].iloc[0])
        tidy = tidy[tidy["measure"] == measure]
    elif "measure" in tidy.columns and len(tidy) and not measure:
        measure = str(tidy["measure"].iloc[0])
    for column in ("code_path", "group"):
        # A total is not one more code or group; but a table's only group may be "all".
        total = tidy[column].astype(str).str.casefold().isin(TOTAL_LABELS)
        if total.any() and not total.all():
            tidy = tidy[~total]
    if tidy.empty:
        raise ExportError(f"The {table.name} table has nothing to draw: it has no rows.")
    codes = [str(c) for c in pd.unique(tidy["code_path"])]
    groups = [str(g) for g in pd.unique(tidy["group"])]
    matrix = (
        tidy.assign(code_path=tidy["code_path"].astype(str), group=tidy["group"].astype(str))
        .groupby(["code_path", "group"], sort=False)["value"]
        .sum(min_count=1)
        .unstack("group")
        .reindex(index=codes, columns=groups)
        .astype(float)
    )
    row_labels, row_axis = _short_labels(codes)
    if set(groups) == set(codes):  # code x code (co-occurrence): columns are codes too
        column_labels, _ = _short_labels(groups)
    elif "denominator" in tidy.columns:
        # A share says of how many: each group's participants in the roster.
        sizes = tidy.assign(group=tidy["group"].astype(str)).groupby("group")["denominator"]
        size = sizes.first().to_dict()
        column_labels = [group_header(g, int(size[g])) for g in groups]
    else:
        column_labels = groups
    matrix.index = _unique_labels([_wrap(label, wrap_width) for label in row_labels])
    matrix.columns = _unique_labels([_wrap(label, wrap_width) for label in column_labels])
    percent = measure.endswith("share") or (
        bool(table.percent_columns) and set(groups) <= {str(c) for c in table.percent_columns}
    )
    return FigureData(
        values=matrix,
        percent=percent,
        measure_label=MEASURE_LABELS.get(measure, measure.replace("_", " ").capitalize()),
        row_axis=row_axis or "Code",
        column_axis=_group_axis(table),
    )


def _format_value(value: float, percent: bool, *, decimals: int = 0) -> str:
    if np.isnan(value):
        return ""
    if percent:
        return f"{value * 100:.{decimals}f}%"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:,.1f}"


def _percent_axis(percent: bool) -> FuncFormatter | None:
    if not percent:
        return None
    return FuncFormatter(lambda x, _pos: f"{x * 100:.0f}%")


# --- Drawing --------------------------------------------------------------------------------


def _relative_luminance(colour: Any) -> float:
    """WCAG relative luminance of an sRGB colour."""
    channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour)]
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def text_colour_on(colour: Any) -> str:
    """Black or white, whichever has the higher contrast ratio with the background."""
    luminance = _relative_luminance(colour)
    on_black = (luminance + 0.05) / 0.05
    on_white = 1.05 / (luminance + 0.05)
    return "black" if on_black >= on_white else "white"


def _title(fig: Figure, table: ExportTable, width: float, font_size: float) -> None:
    chars = int(width * 72 / (font_size * 0.68))  # about how many bold characters fit a line
    fig.suptitle(_wrap(table.title, chars), fontsize=font_size, fontweight="bold", x=0.0, ha="left")


def draw_heatmap(
    fig: Figure, data: FigureData, *, width: float, base: float, annotate_limit: int
) -> None:
    values = data.values
    ax = fig.add_subplot()
    array = np.ma.masked_invalid(values.to_numpy(dtype=float))
    vmax = float(array.max()) if array.count() else 1.0
    norm = Normalize(vmin=0.0, vmax=vmax if vmax > 0 else 1.0)
    cmap = matplotlib.colormaps[HEATMAP_CMAP].with_extremes(bad="#e6e6e6")
    image = ax.imshow(array, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")

    # Column labels stay level while they fit their cell (about 2/3 of the width is cells);
    # otherwise they turn 45 degrees, on one line each, since wrapped and turned they collide.
    longest = max((len(line) for c in values.columns for line in c.split("\n")), default=0)
    cell_points = width * 72 * 0.65 / max(values.shape[1], 1)
    turn = longest * base * 0.6 > cell_points * 0.9
    columns = [c.replace("\n", " ") if turn else c for c in values.columns]
    ax.set_xticks(range(values.shape[1]), labels=columns)
    ax.set_yticks(range(values.shape[0]), labels=list(values.index))
    if turn:
        for label in ax.get_xticklabels():
            label.set(rotation=45, ha="right", rotation_mode="anchor")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    # White lines between cells, so neighbouring cells of similar colour stay apart.
    ax.set_xticks(np.arange(values.shape[1] + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(values.shape[0] + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=0.8)
    ax.tick_params(which="minor", length=0)
    ax.set_ylabel(data.row_axis)
    if data.column_axis:
        ax.set_xlabel(data.column_axis)

    if values.shape[1] <= annotate_limit and values.shape[0] <= 40:
        for (row, column), value in np.ndenumerate(values.to_numpy(dtype=float)):
            if np.isnan(value):
                continue
            ax.text(
                column,
                row,
                _format_value(value, data.percent),
                ha="center",
                va="center",
                fontsize=base - 1,
                color=text_colour_on(cmap(norm(value))),
            )
    colourbar = fig.colorbar(image, ax=ax, shrink=0.9, aspect=30, pad=0.02)
    colourbar.set_label(data.measure_label)
    colourbar.outline.set_visible(False)
    colourbar.ax.tick_params(length=2)
    if data.percent:
        colourbar.ax.yaxis.set_major_formatter(_percent_axis(True))
    else:
        colourbar.ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=vmax >= 5))


def draw_bars(fig: Figure, data: FigureData, *, stacked: bool, base: float) -> None:
    """Horizontal bars, codes down the side in the table's order: long code names read
    without rotation. Grouped: one bar per group; stacked: one segment per group."""
    values = data.values.fillna(0.0)
    codes, groups = list(values.index), list(values.columns)
    ax = fig.add_subplot()
    positions = np.arange(len(codes))
    colours = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(groups))]
    if stacked:
        left = np.zeros(len(codes))
        for group, colour in zip(groups, colours, strict=True):
            widths = values[group].to_numpy()
            ax.barh(
                positions,
                widths,
                left=left,
                height=0.7,
                color=colour,
                label=group,
                edgecolor="white",
                linewidth=0.4,
            )
            left += widths
    else:
        slot = 0.8 / len(groups)
        for index, (group, colour) in enumerate(zip(groups, colours, strict=True)):
            offset = (index - (len(groups) - 1) / 2) * slot
            bars = ax.barh(
                positions + offset,
                values[group].to_numpy(),
                height=slot * 0.95,
                color=colour,
                label=group,
            )
            if len(groups) == 1:
                labels = [_format_value(v, data.percent, decimals=1) for v in values[group]]
                ax.bar_label(bars, labels=labels, padding=2, fontsize=base - 1)
    ax.set_yticks(positions, labels=codes)
    ax.invert_yaxis()  # the table's first code at the top
    ax.set_ylabel(data.row_axis)
    ax.set_xlabel(data.measure_label)
    ax.margins(x=0.08 if len(groups) == 1 else 0.02)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=not data.percent))
    if data.percent:
        ax.xaxis.set_major_formatter(_percent_axis(True))
    ax.grid(axis="x", color="#d9d9d9", linewidth=0.5)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="y", length=0)
    if len(groups) > 1:
        fig.legend(
            # Below the axis: above it, the legend would compete with the title.
            loc="outside lower center",
            ncols=min(len(groups), 6),
            frameon=False,
            title=data.column_axis or None,
            title_fontsize=base - 0.5,
            handlelength=1.0,
            columnspacing=1.0,
        )


# --- Survey results -------------------------------------------------------------------------


@dataclass
class LikertData:
    items: list[str]  # wrapped labels, top to bottom
    points: list[str]  # the scale's point labels, in order
    shares: np.ndarray  # items x points, fractions 0..1 of each item's n
    left_out: int  # items on another scale


def _results(table: ExportTable) -> pd.DataFrame:
    tidy = table.tidy
    if not {"question", "kind", "option", "share"} <= set(tidy.columns):
        raise ExportError(
            f"The {table.name} table has no survey figure: the diverging, matrix and ranks "
            "figures draw a survey's results (the survey_results table)."
        )
    return tidy


def _item_label(row: pd.Series, several_groups: bool) -> str:
    label = str(row["item_label"] or row["question_label"])
    if row["item_label"]:
        label = f"{row['question']}: {label}"
    if several_groups:
        label = f"{label} ({row['group']})"
    return label


def likert_data(table: ExportTable, *, wrap_width: int) -> LikertData:
    """Each Likert question and matrix row (per group), with its shares per point."""
    tidy = _results(table)
    scored = tidy[tidy["score"].notna() & (tidy["option"] != "")]
    # Likert questions; a matrix's rows when there are none (a matrix has its own heatmap).
    likert = scored[scored["kind"].isin(LIKERT_KINDS)]
    scored = likert if not likert.empty else scored[scored["kind"] == "matrix"]
    if scored.empty:
        raise ExportError(
            f"The {table.name} table has no Likert or matrix question to draw as diverging bars."
        )
    several = scored["group"].nunique() > 1
    items: dict[tuple, tuple[str, dict[int, float], tuple[str, ...]]] = {}
    for key, chosen in scored.groupby(["question", "item", "group"], sort=False):
        chosen = chosen.sort_values("score")
        scale = tuple(str(label) for label in chosen["option_label"])
        shares = {
            int(s): float(v) if pd.notna(v) else 0.0
            for s, v in zip(chosen["score"], chosen["share"], strict=True)
        }
        items[key] = (_item_label(chosen.iloc[0], several), shares, scale)
    scales = pd.Series([scale for _l, _s, scale in items.values()])
    scale = scales.mode().iloc[0]
    kept = [(label, shares) for label, shares, own in items.values() if own == scale]
    array = np.array(
        [[shares.get(i, 0.0) for i in range(1, len(scale) + 1)] for _l, shares in kept]
    )
    labels = _unique_labels([_wrap(label, wrap_width) for label, _s in kept])
    return LikertData(labels, list(scale), array, len(items) - len(kept))


def draw_diverging(fig: Figure, data: LikertData, *, base: float) -> None:
    k = len(data.points)
    middle = k / 2  # points before it go left; an odd scale's middle point straddles zero
    cmap = matplotlib.colormaps[DIVERGING_CMAP]
    colours = [cmap(0.12 + 0.76 * i / max(k - 1, 1)) for i in range(k)]
    if k % 2:
        colours[k // 2] = NEUTRAL
    ax = fig.add_subplot()
    positions = np.arange(len(data.items))
    shares = data.shares
    lower = int(np.floor(middle))
    left = -shares[:, :lower].sum(axis=1) - (shares[:, lower] / 2 if k % 2 else 0.0)
    for index in range(k):
        widths = shares[:, index]
        ax.barh(
            positions,
            widths,
            left=left,
            height=0.7,
            color=colours[index],
            label=data.points[index],
            edgecolor="white",
            linewidth=0.4,
        )
        left = left + widths
    ax.axvline(0, color="#333333", linewidth=0.6)
    ax.set_yticks(positions, labels=data.items)
    ax.invert_yaxis()
    reach = max(1e-9, float(np.abs(ax.get_xlim()).max()))
    ax.set_xlim(-reach, reach)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{abs(x) * 100:.0f}%"))
    ax.set_xlabel("Share of respondents")
    ax.grid(axis="x", color="#d9d9d9", linewidth=0.5)
    ax.set_axisbelow(True)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.tick_params(axis="y", length=0)
    # Matplotlib fills a legend column by column; ordered so, it reads row by row, in scale order.
    columns = min(k, 3)
    handles, labels = ax.get_legend_handles_labels()
    order = [i for column in range(columns) for i in range(column, k, columns)]
    fig.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        loc="outside lower center",
        ncols=columns,
        frameon=False,
        handlelength=1.0,
        columnspacing=1.0,
        fontsize=base - 1,
    )


def matrix_data(table: ExportTable, *, wrap_width: int) -> FigureData:
    """The first matrix's rows (per group) x its points, the shares of each row's n."""
    tidy = _results(table)
    rows = tidy[(tidy["kind"] == "matrix") & (tidy["option"] != "") & tidy["score"].notna()]
    if rows.empty:
        raise ExportError(f"The {table.name} table has no matrix question to draw as a heatmap.")
    several_groups = rows["group"].nunique() > 1
    first = rows["question"].iloc[0]
    chosen = rows[rows["question"] == first]  # one matrix: its own scale
    # The rows by their own labels: the question is said once, under the answers.
    labels = [
        f"{r['item_label']} ({r['group']})" if several_groups else str(r["item_label"])
        for _i, r in chosen.iterrows()
    ]
    chosen = chosen.assign(_label=labels)
    points = [str(p) for p in pd.unique(chosen.sort_values("score")["option_label"])]
    matrix = (
        chosen.pivot_table(index="_label", columns="option_label", values="share", sort=False)
        .reindex(index=list(dict.fromkeys(labels)), columns=points)
        .astype(float)
    )
    matrix.index = _unique_labels([_wrap(str(label), wrap_width) for label in matrix.index])
    matrix.columns = [_wrap(str(c), 12) for c in matrix.columns]
    return FigureData(
        values=matrix,
        percent=True,
        measure_label="Share of the row's respondents",
        row_axis="",
        column_axis=_wrap(str(chosen["question_label"].iloc[0]), wrap_width * 2),
    )


def ranks_data(table: ExportTable, *, wrap_width: int) -> FigureData:
    """Each ranking question's options (rows) by group (columns): the mean rank."""
    tidy = _results(table)
    ranked = tidy[(tidy["kind"] == "ranking") & tidy["mean_rank"].notna()]
    if ranked.empty:
        raise ExportError(f"The {table.name} table has no ranking question to draw.")
    several_questions = ranked["question"].nunique() > 1
    labels = [
        f"{r['question']}: {r['option_label']}" if several_questions else str(r["option_label"])
        for _i, r in ranked.iterrows()
    ]
    ranked = ranked.assign(_label=labels, group=ranked["group"].astype(str))
    values = (
        ranked.pivot_table(index="_label", columns="group", values="mean_rank", sort=False)
        .reindex(index=list(dict.fromkeys(labels)), columns=list(pd.unique(ranked["group"])))
        .astype(float)
    )
    values.index = _unique_labels([_wrap(label, wrap_width) for label in values.index])
    return FigureData(
        values=values,
        percent=False,
        measure_label="Mean rank (1 = first)",
        row_axis="" if several_questions else str(ranked["question_label"].iloc[0]),
        column_axis=_group_axis(table),
    )


def _height(kind: str, data: FigureData, width: float) -> float:
    rows, columns = data.values.shape
    lines = sum(label.count("\n") + 1 for label in data.values.index)
    row_height = max(rows, lines * 0.6)
    if kind == "bars" and columns > 1:
        per_row = 0.12 + 0.1 * columns
    elif kind == "heatmap":
        per_row = 0.26 if width < 5 else 0.3
    else:
        per_row = 0.22
    extra = 1.3 if kind == "heatmap" else 1.0
    return float(np.clip(extra + per_row * row_height, 2.2, 9.5))


def render_figure(
    table: ExportTable,
    fmt: str = "png",
    *,
    kind: str | None = None,
    size: str = "single",
) -> bytes:
    """The table as a figure file (png, svg or pdf). kind: "heatmap", "bars" or "stacked"; by
    default the table's own (`ExportTable.figure`, from its exporter), else a heatmap when there
    are several groups and bars for one. size: "single" (one column, 3.5 in) or "double" (two
    columns, 7.2 in)."""
    if fmt not in FIGURE_FORMATS:
        raise ExportError(f"Unknown figure format '{fmt}': use one of {', '.join(FIGURE_FORMATS)}.")
    if size not in SIZES:
        raise ExportError(f"Unknown figure size '{size}': use one of {', '.join(SIZES)}.")
    if kind and kind not in KINDS:
        raise ExportError(f"Unknown figure kind '{kind}': use one of {', '.join(KINDS)}.")
    width = SIZES[size]
    base = 7.0 if size == "single" else 8.0  # journals ask for 6-9 pt at print size
    wrap_width = 22 if size == "single" else 34
    kind = kind or table.figure
    likert: LikertData | None = None
    if kind == "diverging":
        likert = likert_data(table, wrap_width=wrap_width)
        # Sized like stacked bars, one row per item.
        data = FigureData(pd.DataFrame(index=likert.items), True, "", "", "")
    elif kind == "matrix":
        data = matrix_data(table, wrap_width=wrap_width)
    elif kind == "ranks":
        data = ranks_data(table, wrap_width=wrap_width)
    else:
        data = figure_data(table, wrap_width=wrap_width)
        kind = kind or ("heatmap" if data.values.shape[1] > 1 else "bars")

    style = {
        "font.family": ["DejaVu Sans", "sans-serif"],
        "font.size": base,
        "axes.titlesize": base + 1,
        "axes.labelsize": base,
        "xtick.labelsize": base - 0.5,
        "ytick.labelsize": base - 0.5,
        "legend.fontsize": base - 0.5,
        "axes.linewidth": 0.6,
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
        "svg.fonttype": "none",
        "svg.hashsalt": "colloquy",
        "pdf.fonttype": 42,
    }
    # rc_context: savefig reads the font settings at save time, and they must not leak into
    # anything else drawn in this process.
    with matplotlib.rc_context(style):
        fig = Figure(
            figsize=(width, _height("heatmap" if kind == "matrix" else kind, data, width)),
            layout="constrained",
        )
        _title(fig, table, width, base + 1)
        if likert is not None:
            draw_diverging(fig, likert, base=base)
            if likert.left_out:
                left_out = likert.left_out
                fig.axes[0].set_xlabel(
                    f"Share of respondents\n({left_out} item{'s' if left_out > 1 else ''} on "
                    "another scale not shown)"
                )
        elif kind in ("heatmap", "matrix"):
            draw_heatmap(
                fig, data, width=width, base=base, annotate_limit=10 if size == "single" else 22
            )
        else:
            draw_bars(fig, data, stacked=kind == "stacked", base=base)
        metadata: dict[str, Any] = {"Title": table.title}
        if fmt == "pdf":
            metadata.update(Creator="Colloquy", CreationDate=None)
        elif fmt == "svg":
            metadata.update(Creator="Colloquy", Date=None)
        buffer = io.BytesIO()
        fig.savefig(
            buffer,
            format=fmt,
            dpi=DPI,
            bbox_inches="tight",
            pad_inches=0.03,
            facecolor="white",
            metadata=metadata,
        )
    return buffer.getvalue()
