"""Events the customers app announces; higher apps (webhooks, messaging) listen.

Sent after the transaction that made the change has committed, so a listener never sees
something that was rolled back.
"""

from django.dispatch import Signal

# kwargs: customer
customer_created = Signal()
