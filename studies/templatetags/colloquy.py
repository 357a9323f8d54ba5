from django import template

register = template.Library()


@register.filter
def clock(milliseconds: int | None) -> str:
    """1234567 -> '0:20:34', the way transcripts show times."""
    if milliseconds is None:
        return ""
    seconds = int(milliseconds) // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
