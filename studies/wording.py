"""How numbers are written in messages: one rule for every app (studies is the ground layer)."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 workshop', '2 workshops', '1,512 turns'; `many` for irregular plurals
    (plural(n, "of these codings is", "of these codings are"))."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
