"""Proof that a business's ledger is exact; `regulars ledger verify` prints what this finds."""

from __future__ import annotations

from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce

from regulars.accounts.models import Business
from regulars.loyalty.models import Account, LedgerEntry, RefundRule, Unit, Voucher

Kind = LedgerEntry.Kind


def verify_ledger(business: Business) -> list[str]:
    """Every way the ledger could be wrong, as plain sentences; an empty list means exact.

    Checks: each cached balance equals the sum of its entries; no balance is below zero where
    the refund rule forbids it; every entry, account, customer and program belong to this
    business; reversals have the opposite sign and never exceed what they reverse (waived
    included); expiries never exceed their lot; every points or stamps redemption has its
    voucher, void exactly when the redemption was undone.
    """
    problems: list[str] = []
    accounts = Account.objects.filter(business=business)

    for a in accounts.annotate(total=Coalesce(Sum("entries__amount"), 0)).exclude(
        balance=F("total")
    ):
        problems.append(
            f"account {a.code}: cached balance {a.balance} but its entries sum to {a.total}"
        )
    for a in accounts.filter(balance__lt=0, program__refund_rule=RefundRule.CLAMP):
        problems.append(
            f"account {a.code}: balance {a.balance} is below zero, which its program forbids"
        )
    for a in accounts.filter(~Q(customer__business=business) | ~Q(program__business=business)):
        problems.append(f"account {a.code}: its customer or program belongs to another business")
    for e in LedgerEntry.objects.filter(
        (Q(account__business=business) & ~Q(business=business))
        | (Q(business=business) & ~Q(account__business=business))
    ):
        problems.append(f"entry {e.code}: its account belongs to another business")

    entries = LedgerEntry.objects.filter(business=business)
    reversed_totals = (
        entries.filter(kind=Kind.REVERSE)
        .values("reverses_id")
        .annotate(total=Sum("amount"), waived=Sum("waived"))
    )
    originals = {
        e.pk: e for e in entries.filter(pk__in=[r["reverses_id"] for r in reversed_totals])
    }
    for r in reversed_totals:
        original = originals.get(r["reverses_id"])
        if original is None:
            problems.append(f"reversal of entry #{r['reverses_id']}: not in this business")
            continue
        total, waived = r["total"], r["waived"]
        if original.kind in (Kind.REVERSE, Kind.EXPIRE):
            problems.append(f"entry {original.code}: a {original.kind} entry was reversed")
        if original.amount > 0 and (total > 0 or -total + waived > original.amount):
            problems.append(
                f"entry {original.code}: reversals take back {-total} (+{waived} waived) "
                f"of {original.amount}"
            )
        if original.amount < 0 and (total < 0 or total > -original.amount):
            problems.append(
                f"entry {original.code}: reversals give back {total} of {-original.amount}"
            )

    for e in entries.filter(kind=Kind.REVERSE).exclude(account_id=F("reverses__account_id")):
        problems.append(f"entry {e.code}: reverses an entry of another account")

    expired = entries.filter(kind=Kind.EXPIRE).values("lot_id").annotate(total=Sum("amount"))
    lots = {
        e.pk: e
        for e in entries.filter(pk__in=[x["lot_id"] for x in expired]).annotate(
            reversed=Coalesce(Sum("reversals__amount"), 0)
        )
    }
    for x in expired:
        lot = lots.get(x["lot_id"])
        if lot is None or lot.amount <= 0 or lot.kind not in (Kind.EARN, Kind.ADJUST):
            problems.append(f"expiry of entry #{x['lot_id']}: not a lot of this business")
            continue
        if -x["total"] > lot.amount + lot.reversed:
            problems.append(
                f"entry {lot.code}: {-x['total']} expired of a lot holding {lot.amount + lot.reversed}"
            )
    if entries.filter(kind=Kind.EXPIRE).exclude(lot__account_id=F("account_id")).exists():
        problems.append("some expiry entries name a lot of another account")

    redemptions = entries.filter(kind=Kind.REDEEM).exclude(account__unit=Unit.CREDIT)
    for e in redemptions.filter(voucher__isnull=True):
        problems.append(f"entry {e.code}: a redemption without its voucher")
    undone = redemptions.annotate(back=Coalesce(Sum("reversals__amount"), 0)).filter(
        back=-F("amount")
    )
    for v in Voucher.objects.filter(business=business, entry__in=undone).exclude(
        status=Voucher.Status.VOID
    ):
        problems.append(f"voucher {v.code}: its redemption was undone but it is still {v.status}")
    for v in Voucher.objects.filter(
        business=business, status=Voucher.Status.VOID, entry__isnull=False
    ).exclude(entry__in=undone):
        problems.append(f"voucher {v.code}: void but its points were not given back")
    for v in Voucher.objects.filter(business=business).exclude(
        Q(entry__isnull=True) | Q(entry__account__customer_id=F("customer_id"))
    ):
        problems.append(f"voucher {v.code}: paid from another customer's account")
    return problems
