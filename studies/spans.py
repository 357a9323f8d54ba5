"""Spans of a document's text, and the one index every part of Colloquy finds them with: who
said a coded passage (turns a coding overlaps), which sentences or turns a search hit or a
coding falls in, which consensus codings a unit already holds.

A span is [start, end): code point offsets into `Document.text`, start inclusive, end exclusive
(DESIGN.md, "Data rules"). Two spans overlap when they share at least one character
(a.start < b.end and b.start < a.end); spans that only touch do not.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise
from typing import Generic, TypeVar

T = TypeVar("T")
Span = tuple[int, int]


class SpanIndex(Generic[T]):
    """Spans of one text, each with a payload, sorted by start (then end). A span overlapping
    [start, end) starts before `end`; where no span nests in another (turns, sentences) the
    ends are sorted too and the first candidate is found by bisection; where spans nest
    (codings), a span at most `longest` long starts after `start - longest`. Either way only a
    window is scanned, however many spans the text has."""

    def __init__(self, rows: Iterable[tuple[int, int, T]]) -> None:
        self.rows: list[tuple[int, int, T]] = sorted(rows, key=lambda row: (row[0], row[1]))
        self.starts = [row[0] for row in self.rows]
        self.ends = [row[1] for row in self.rows]
        self.sorted_ends = all(a <= b for a, b in pairwise(self.ends))
        self.longest = max((end - start for start, end, _ in self.rows), default=0)

    @classmethod
    def of(cls, spans: Iterable[Span]) -> SpanIndex[Span]:
        """An index whose payloads are the spans themselves."""
        return cls((start, end, (start, end)) for start, end in spans)  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.rows)

    def _window(self, start: int, end: int) -> list[tuple[int, int, T]]:
        if self.sorted_ends:
            low = bisect_right(self.ends, start)  # the first span ending after `start`
        else:
            low = bisect_right(self.starts, start - self.longest)
        high = bisect_left(self.starts, end)
        return self.rows[low:high]

    def overlapping(self, start: int, end: int) -> list[T]:
        """The payloads of the spans sharing at least one character with [start, end), in
        order of their starts."""
        return [payload for s, e, payload in self._window(start, end) if s < end and start < e]

    def overlaps(self, start: int, end: int) -> bool:
        return any(s < end and start < e for s, e, _ in self._window(start, end))

    def containing(self, start: int, end: int) -> T | None:
        """The payload of the first span that wholly contains [start, end), or None."""
        for s, e, payload in self._window(start, end):
            if s <= start and end <= e:
                return payload
        return None

    def covering(self, start: int, end: int) -> Span | None:
        """From the start of the first to the end of the last span overlapping [start, end) (a
        search hit widened to its sentences or turns), or None when none overlaps it."""
        found = [(s, e) for s, e, _ in self._window(start, end) if s < end and start < e]
        if not found:
            return None
        return (min(s for s, _ in found), max(e for _, e in found))


class DocumentSpans(Generic[T]):
    """A SpanIndex per document, from rows (document id, start, end, payload) in any order."""

    def __init__(self, rows: Iterable[tuple[int, int, int, T]]) -> None:
        by_document: dict[int, list[tuple[int, int, T]]] = defaultdict(list)
        for document_id, start, end, payload in rows:
            by_document[document_id].append((start, end, payload))
        self.indexes: dict[int, SpanIndex[T]] = {
            document_id: SpanIndex(spans) for document_id, spans in by_document.items()
        }

    def of(self, document_id: int) -> SpanIndex[T]:
        return self.indexes.get(document_id) or SpanIndex(())

    def overlapping(self, document_id: int, start: int, end: int) -> list[T]:
        index = self.indexes.get(document_id)
        return index.overlapping(start, end) if index is not None else []
