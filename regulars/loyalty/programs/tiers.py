"""Tiers: Silver / Gold / Platinum by spend or visits over a rolling window.

Config keys:
    basis         "spend" (net of refunds, in the business currency) or "visits" (purchases)
    window_days   the rolling window measured (default 365)
    period_days   how long a reached tier is kept before the customer is measured again
                  (default: window_days)
    tiers         [{"key": "gold", "name": "Gold", "threshold": 500, "multiplier": 1.5,
                    "perks": ["Free refill"]}, …] in rising threshold order

Upgrades happen at once, on the purchase that crosses a threshold (that purchase still earns at
the old multiplier: the customer earns what the counter showed before paying). Downgrades wait
for the end of the period; reaching the same tier again renews the period.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from regulars.accounts.models import Business
from regulars.lib.rows import columns, from_rows, marks
from regulars.loyalty.models import Program, TierStatus
from regulars.loyalty.programs import register
from regulars.loyalty.programs.base import (
    ProgramKind,
    TierChange,
    choice_of,
    config_error,
    decimal_of,
    int_of,
    known_keys,
)
from regulars.loyalty.signals import tier_changed
from regulars.sales.models import Purchase

UNREAD = object()  # `evaluate` reads (and locks) the status itself


@dataclass(frozen=True)
class Tier:
    key: str
    name: str
    threshold: Decimal
    multiplier: Decimal = Decimal(1)
    perks: tuple[str, ...] = ()


@dataclass(frozen=True)
class TiersConfig:
    basis: str = "spend"
    window_days: int = 365
    period_days: int = 365
    tiers: tuple[Tier, ...] = ()


def _tier_of(raw: Any, index: int) -> Tier:
    if not isinstance(raw, Mapping) or not raw.get("name"):
        raise config_error(f"tiers[{index}]", "needs at least a name and a threshold")
    perks = raw.get("perks", [])
    if not isinstance(perks, list | tuple) or not all(isinstance(p, str) for p in perks):
        raise config_error(f"tiers[{index}].perks", "must be a list of texts")
    return Tier(
        key=str(raw.get("key") or slugify(raw["name"]))[:40],
        name=str(raw["name"]),
        threshold=decimal_of(raw, "threshold", 0),
        multiplier=decimal_of(raw, "multiplier", 1),
        perks=tuple(perks),
    )


@register
class TiersProgram(ProgramKind):
    kind = Program.Kind.TIERS
    Config = TiersConfig

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> TiersConfig:
        known_keys(raw, {"basis", "window_days", "period_days", "tiers"})
        window = int_of(raw, "window_days", 365, minimum=1)
        tiers_raw = raw.get("tiers", [])
        if not isinstance(tiers_raw, list) or not tiers_raw:
            raise config_error("tiers", "list at least one tier")
        tiers = tuple(_tier_of(t, i) for i, t in enumerate(tiers_raw))
        keys = [t.key for t in tiers]
        if len(set(keys)) != len(keys):
            raise config_error("tiers", "each tier needs its own key")
        if any(a.threshold >= b.threshold for a, b in zip(tiers, tiers[1:], strict=False)):
            raise config_error("tiers", "thresholds must rise from one tier to the next")
        return TiersConfig(
            basis=choice_of(raw, "basis", "spend", ("spend", "visits")),
            window_days=window,
            period_days=int_of(raw, "period_days", window, minimum=1),
            tiers=tiers,
        )

    # --- reading the ladder ---------------------------------------------------------------

    def rank(self, key: str) -> int:
        """0 for the lowest tier, -1 for no tier (or a tier since removed from the config)."""
        for i, tier in enumerate(self.config.tiers):
            if tier.key == key:
                return i
        return -1

    def tier(self, key: str) -> Tier | None:
        rank = self.rank(key)
        return self.config.tiers[rank] if rank >= 0 else None

    def reached(self, value: Decimal) -> Tier | None:
        """The highest tier whose threshold `value` meets."""
        found = None
        for tier in self.config.tiers:
            if value >= tier.threshold:
                found = tier
        return found

    def next_tier(self, key: str) -> Tier | None:
        rank = self.rank(key)
        tiers = self.config.tiers
        return tiers[rank + 1] if rank + 1 < len(tiers) else None

    def multiplier(self, key: str) -> Decimal:
        tier = self.tier(key)
        return tier.multiplier if tier else Decimal(1)

    # --- measuring and moving -------------------------------------------------------------

    def measure(self, customer_id: int, at: datetime) -> Decimal:
        """Spend (net of refunds) or visits in the rolling window ending at `at`."""
        sql, params = self.measure_query(customer_id, at)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            [row] = cursor.fetchall()
        return self.measured(row)

    def measure_query(self, customer_id: int, at: datetime) -> tuple[str, list]:
        """`measure` as one plain SELECT, for a caller that sends it with other reads.

        Every sale measures. Spend is summed in whole cents, so no backend (SQLite keeps
        decimals as floating point) ever adds money as floats.
        """
        what = (
            "COUNT(*)"
            if self.config.basis == "visits"
            else "COALESCE(SUM(CAST(ROUND((total - refunded) * 100) AS BIGINT)), 0)"
        )
        adapt = connection.ops.adapt_datetimefield_value
        return (
            f"SELECT {what} FROM {Purchase._meta.db_table} WHERE business_id = %s "
            "AND customer_id = %s AND occurred_at > %s AND occurred_at <= %s"
            + (" AND total > refunded" if self.config.basis == "visits" else ""),
            [
                self.program.business_id,
                customer_id,
                adapt(at - timedelta(days=self.config.window_days)),
                adapt(at),
            ],
        )

    def measured(self, rows: list[tuple] | tuple) -> Decimal:
        """The value of `measure_query`'s answer (its rows, or its one row)."""
        [(value,)] = rows if isinstance(rows, list) else [rows]
        return Decimal(value) if self.config.basis == "visits" else Decimal(value).scaleb(-2)

    def counted(self, purchase: Purchase) -> Decimal:
        """What a purchase not yet written adds to its own time's measure: as `measure` would
        count it once written (a new purchase has no refunds)."""
        net = purchase.total - purchase.refunded
        if self.config.basis == "visits":
            return Decimal(1 if net > 0 else 0)
        return net.quantize(Decimal("0.01"))

    def evaluate(
        self,
        *,
        customer_id: int,
        at: datetime,
        status: TierStatus | None | object = UNREAD,
        value: Decimal | None = None,
    ) -> TierChange | None:
        """Measure the customer and move their tier: up at once, down only at period end.

        Call inside a transaction. `value` is the measure when the caller has it; `status` the
        customer's TierStatus (or None: there is none) when the caller has read it. A status
        that must change is locked (and read again) first, so two purchases at once cannot both
        decide from a stale tier; a status that stays as it is is not locked at all.
        """
        value = self.measure(customer_id, at) if value is None else value
        if status is UNREAD or self._moves(status, value, at):
            status = locked_statuses([self.program], customer_id).get(self.program.pk)
        reached = self.reached(value)
        new = reached.key if reached else ""
        period = timedelta(days=self.config.period_days)
        if status is None:
            if reached is None:
                return None
            try:
                with transaction.atomic():
                    TierStatus.objects.create(
                        business_id=self.program.business_id,
                        customer_id=customer_id,
                        program=self.program,
                        tier=new,
                        since=at,
                        period_ends_at=at + period,
                    )
            except IntegrityError:
                # A concurrent purchase created it first; decide again against its row.
                return self.evaluate(customer_id=customer_id, at=at, value=value)
            return self._change(customer_id, "", new, at)
        old = status.tier
        if self.rank(new) > self.rank(old) or (
            at >= status.period_ends_at and self.rank(new) < self.rank(old)
        ):
            status.tier, status.since, status.period_ends_at = new, at, at + period
            status.save(update_fields=["tier", "since", "period_ends_at", "updated_at"])
            return self._change(customer_id, old, new, at)
        if at >= status.period_ends_at and new:
            # Requalified for the same tier: keep it for another period.
            status.period_ends_at = at + period
            status.save(update_fields=["period_ends_at", "updated_at"])
        return None

    def _moves(self, status: TierStatus | None, value: Decimal, at: datetime) -> bool:
        """Whether `evaluate` would write anything for this status (read without a lock)."""
        reached = self.reached(value)
        if status is None:
            return reached is not None
        new = reached.key if reached else ""
        return self.rank(new) > self.rank(status.tier) or at >= status.period_ends_at

    def _change(self, customer_id: int, old: str, new: str, at: datetime) -> TierChange:
        return TierChange(
            program=self.program,
            customer_id=customer_id,
            old=old,
            new=new,
            old_rank=self.rank(old),
            new_rank=self.rank(new),
            at=at,
        )

    def describe(self) -> str:
        names = " / ".join(t.name for t in self.config.tiers)
        if self.config.basis == "visits":
            return _("%(names)s by visits over %(days)s days") % {
                "names": names,
                "days": self.config.window_days,
            }
        return _("%(names)s by spend over %(days)s days") % {
            "names": names,
            "days": self.config.window_days,
        }


def status_query(programs: list[Program], customer_id: int, *, lock: bool) -> tuple[str, list]:
    """The customer's TierStatus rows in these tiers programs (plain SQL), locked or not."""
    tiered = [p.pk for p in programs if p.kind == Program.Kind.TIERS]
    lock_sql = " FOR UPDATE" if lock and connection.features.has_select_for_update else ""
    return (
        f"SELECT {_STATUS_COLUMNS} FROM {TierStatus._meta.db_table} WHERE customer_id = %s "
        f"AND program_id IN ({marks(tiered)}) ORDER BY id{lock_sql}",
        [customer_id, *tiered],
    )


def statuses_from(rows: list[tuple]) -> dict[int, TierStatus]:
    """`status_query`'s rows as TierStatus objects, by program pk."""
    return {s.program_id: s for s in from_rows(TierStatus, rows)}


def locked_statuses(programs: list[Program], customer_id: int) -> dict[int, TierStatus]:
    """The customer's TierStatus rows in these tiers programs, locked, by program pk."""
    if not any(p.kind == Program.Kind.TIERS for p in programs):
        return {}
    sql, params = status_query(programs, customer_id, lock=True)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return statuses_from(cursor.fetchall())


_STATUS_COLUMNS = columns(TierStatus)


def tier_multiplier(
    programs: list[Program], customer_id: int, statuses: dict[int, TierStatus] | None = None
) -> Decimal:
    """The best multiplier among the tiers the customer holds in the running tiers programs.

    Several tiers programs at once are rare; the best one wins, they never multiply together.
    `statuses` (from `status_query`) saves reading them again.
    """
    tiered = {p.pk: p for p in programs if p.kind == Program.Kind.TIERS}
    if not tiered:
        return Decimal(1)
    if statuses is None:
        statuses = {
            s.program_id: s
            for s in TierStatus.objects.filter(customer_id=customer_id, program_id__in=tiered)
        }
    best = Decimal(1)
    for program_id, status in statuses.items():
        best = max(best, tiered[program_id].rules.multiplier(status.tier))
    return best


def review_tiers(*, business: Business, now: datetime | None = None) -> list[TierChange]:
    """Measure every customer whose tier period has ended: downgrade, renew, or upgrade.

    One short transaction per customer, so the nightly run never holds many locks at once.
    Running it twice changes nothing more: a reviewed status gets a new period end.
    """
    now = now or timezone.now()
    changes: list[TierChange] = []
    due = (
        TierStatus.objects.filter(business=business, period_ends_at__lte=now, program__active=True)
        .exclude(tier="")
        .select_related("program")
        .order_by("pk")
    )
    for status in due:
        with transaction.atomic():
            change = status.program.rules.evaluate(customer_id=status.customer_id, at=now)
            if change is not None:
                changes.append(change)
                transaction.on_commit(lambda c=change: tier_changed.send(sender=Program, change=c))
    return changes
