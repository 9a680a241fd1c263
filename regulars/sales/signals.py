"""Events the sales app announces after commit; higher apps (webhooks, messaging) listen."""

from django.dispatch import Signal

# kwargs: purchase
purchase_recorded = Signal()
# kwargs: refund
purchase_refunded = Signal()
