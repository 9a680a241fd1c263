"""{% customer_scores customer %}: the customer's segment and predictions, for the customer page."""

from __future__ import annotations

from typing import Any

from django import template

from regulars.analytics.models import CustomerScore

register = template.Library()


def customer_scores_context(customer, currency: str | None = None) -> dict[str, Any]:
    """The latest CustomerScore of ``customer`` as template context (one query)."""
    score = CustomerScore.objects.filter(customer=customer).first()
    alive = before = None
    if score is not None and score.p_alive is not None:
        alive = round(100 * score.p_alive)
        if score.p_alive_before is not None:
            before = round(100 * score.p_alive_before)
    return {
        "score": score,
        "currency": currency or customer.business.currency,
        "alive": alive,
        "before": before,
        "falling": alive is not None and before is not None and before > alive,
    }


@register.inclusion_tag("analytics/customer_scores.html", takes_context=True)
def customer_scores(context: template.Context, customer) -> dict[str, Any]:
    """Render analytics/customer_scores.html for ``customer`` (the page's business currency)."""
    business = context.get("business")
    return customer_scores_context(customer, business.currency if business else None)
