"""Loyalty: programs, the append-only ledger, rewards, vouchers and promo cards.

Where to start (every write is one transaction, idempotent by key, refuses other tenants'
objects with a DomainError naming the field):

    sale.record_sale(business=, customer=, lines= | amount=, idempotency_key=, also=) -> Sale
    ledger.accrue_purchase(purchase=, idempotency_key=, staff=)      -> Accrual
    ledger.redeem(customer=, reward=, idempotency_key=, staff=, location=)  -> Voucher
    ledger.spend_credit(customer=, program=, amount=, idempotency_key=, purchase=, staff=)
    ledger.reverse_purchase(purchase=, refund=, idempotency_key=)  -> [LedgerEntry]
    ledger.undo(entry=, staff=, idempotency_key=, window=UNDO_WINDOW)  -> [LedgerEntry]
    ledger.last_undoable(customer=)  -> LedgerEntry | None   (what the counter may undo)
    ledger.award_bonus(customer=, action=, idempotency_key=, staff=)  -> [LedgerEntry]
    ledger.adjust(customer=, program=, amount=, reason=, staff=, idempotency_key=)
    vouchers.use_voucher / issue_promo_card / use_promo_card
    expiry.expire_due / expiring_soon / announce_expiring; programs.tiers.review_tiers
    card.balances(customer) -> CardSummary; card.recent_activity(customer)
    verify.verify_ledger(business) -> [problem]; `regulars ledger verify|expire`

Program kinds live in programs/<kind>.py, one class each, found through programs.REGISTRY.
"""
