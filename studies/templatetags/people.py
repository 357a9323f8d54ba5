"""Template tags for people: the invitations waiting for the signed-in user."""

from __future__ import annotations

from django import template

from studies import invitations

register = template.Library()


@register.inclusion_tag("studies/_invitations_waiting.html", takes_context=True)
def invitations_waiting(context: template.Context) -> dict:
    """Invitations addressed to the user's account (by username), each with a fresh link: the
    invitation's own age, not the link's, decides when it expires."""
    user = context["request"].user
    waiting = invitations.waiting_for(user) if user.is_authenticated else []
    return {
        "waiting": [
            (invitation, invitations.token_for(invitation), invitations.expires_at(invitation))
            for invitation in waiting
        ],
        "csrf_token": context.get("csrf_token"),
    }
