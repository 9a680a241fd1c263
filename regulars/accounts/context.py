"""Template context: the current business and the user's role in it, for the base layout."""

from django.http import HttpRequest


def current_business(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    return {
        "business": getattr(request, "business", None),
        "membership": membership,
        "role": membership.role if membership else None,
    }
