"""Events loyalty tells higher apps about (messaging hooks these). All are sent after commit.

points_expiring  kwargs: business, customer, program, amount (int units), value (int | Decimal),
                 expires_at, key (stable per account and day, for the receiver to de-duplicate)
points_expired   kwargs: business, entries (the expiry entries written for one account)
tier_changed     kwargs: change (programs.base.TierChange)
purchase_accrued kwargs: accrual (ledger.Accrual), only when something new was written
reward_redeemed  kwargs: voucher
"""

from django.dispatch import Signal

points_expiring = Signal()
points_expired = Signal()
tier_changed = Signal()
purchase_accrued = Signal()
reward_redeemed = Signal()
