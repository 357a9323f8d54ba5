from django import template

from studies.jobs import runs_in_background

register = template.Library()


@register.filter
def clock(milliseconds: int | None) -> str:
    """1234567 -> '0:20:34', the way transcripts show times."""
    if milliseconds is None:
        return ""
    seconds = int(milliseconds) // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@register.simple_tag
def download_attribute() -> str:
    """`download` on a link to something a job makes, when the job runs in the request and the
    link answers with the file; nothing when it answers with the job's page (a worker runs it),
    which the browser must open, not save."""
    return "" if runs_in_background() else "download"
