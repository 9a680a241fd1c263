"""The seeded behaviour model of the demo café: who comes, when, how often, and what they buy.

Customers follow the story that BG/NBD and Gamma-Gamma tell, so that the analytics fitted to the
demo later find real structure to recover:

- while active, a customer buys as a Poisson process with a personal rate λ ~ Gamma(r, α): a few
  come every day, most a few times a month or less;
- after every purchase they leave for good with a personal probability p ~ Beta(a, b), so some
  regulars simply stop coming (the first purchase is the one they joined with);
- each has a personal spend level ν ~ Gamma(q, γ) and each visit's spend is z ~ Gamma(p, ν):
  spend varies around a personal mean that does not depend on how often they come.

Real cafés are not stationary, so calendar time is bent by an intensity: a rate λ means λ visits
on an average day, more on a Saturday in December, fewer on a Monday in January, none on
Christmas Day. Office workers come on weekdays and vanish in August, students skip the summer.
People join over time, more of them as the café gets known (and when the second location opens).
Walk-in guests who never joined make about 30% of the sales and spend less than members.

References: Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science
24(2); Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves", JMR 42(4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from regulars.demo import menu
from regulars.demo.people import FAMILY, OFFICE, REMOTE, STUDENT, TAGS, VEGAN

# Rhythm profiles: whose week and year the visits follow.
GENERAL, OFFICE_HOURS, TERM_TIME = range(3)

# Relative traffic Monday..Sunday.
_WEEKDAY = np.array(
    [
        [0.85, 0.90, 0.92, 0.95, 1.05, 1.65, 1.25],  # everyone: Saturday brunch, quiet Mondays
        [1.20, 1.20, 1.20, 1.15, 1.00, 0.20, 0.10],  # office workers
        [1.15, 1.15, 1.15, 1.05, 0.90, 0.60, 0.70],  # students
    ]
)
# Relative traffic January..December, interpolated between mid-months so there are no steps.
_MONTH = np.array(
    [
        [0.82, 0.88, 0.95, 1.00, 1.05, 1.05, 0.97, 0.92, 1.04, 1.00, 1.02, 1.40],  # December peak
        [0.95, 1.00, 1.00, 1.00, 1.00, 0.95, 0.80, 0.65, 1.00, 1.00, 1.00, 1.05],  # August holiday
        [1.00, 0.95, 1.10, 1.10, 1.05, 0.90, 0.40, 0.45, 1.20, 1.15, 1.15, 0.95],  # term time
    ]
)
_CLOSED = {(12, 25), (12, 26), (1, 1)}
_SHORT_DAYS = {(12, 24), (12, 31)}
# Opening hours in minutes, Monday..Sunday.
_OPEN = np.array([420] * 5 + [480, 540])
_CLOSE = np.array([1140] * 5 + [1080, 1020])
# Time of day as mixtures of (mean minute, sd minutes, weight), by profile and weekday/Sat/Sun.
_H = 60
_WEEKEND = [
    [(10 * _H + 15, 70, 0.6), (14 * _H + 30, 80, 0.4)],  # Saturday: late breakfast, brunch
    [(11 * _H, 75, 0.55), (14 * _H + 45, 70, 0.45)],  # Sunday
]
_TIME_OF_DAY = {
    GENERAL: [
        [(8 * _H + 30, 45, 0.42), (12 * _H + 45, 45, 0.25), (15 * _H + 45, 75, 0.33)],
        *_WEEKEND,
    ],
    OFFICE_HOURS: [
        [(8 * _H + 10, 30, 0.6), (12 * _H + 30, 30, 0.3), (16 * _H, 45, 0.1)],
        *_WEEKEND,
    ],
    TERM_TIME: [[(10 * _H + 30, 80, 0.35), (15 * _H, 90, 0.65)], *_WEEKEND],
}

# BG/NBD: visit rate per average day λ ~ Gamma(shape R, scale RATE_MEAN / R). A small shape
# makes the long tail of rare visitors and the few who come daily.
RATE_SHAPE, RATE_MEAN, RATE_CAP = 0.6, 0.11, 1.4
# Drop-out probability after each purchase p ~ Beta(A, B): mean 2.6%, a regular leaves after
# about 40 visits on average, but many never do and some leave after a handful.
DROPOUT_A, DROPOUT_B = 0.8, 30.0
# Gamma-Gamma: a visit's spend z ~ Gamma(P, ν), ν ~ Gamma(Q, γ). Mean spend P·γ/(Q-1) = €7.
SPEND_P, SPEND_Q, SPEND_GAMMA = 5.0, 4.0, 4.2
# Who comes more, and who spends more, than the average person.
_RATE_BY_TAG = {OFFICE: 1.4, STUDENT: 1.2, REMOTE: 2.5}
_SPEND_BY_TAG = {STUDENT: 0.75, FAMILY: 1.6, REMOTE: 1.25}
# Lunch is a meal; the morning is a coffee on the way to work.
DAYPART_SPEND = np.array([0.9, 1.35, 1.0])
GUEST_SPEND = 0.7  # guests spend less: members spend about two thirds more per visit
GUEST_SHARE = 0.3  # of all sales
HOME_LOCATION_SHARE = 0.9  # visits at the customer's own location
REFUND_RATE = 0.005


@dataclass
class Calendar:
    """The days of the demo and how busy each is, per rhythm profile.

    `cumulative[profile, d]` is the expected number of visits of a rate-1 customer from the first
    day through day d; visits are placed by inverting it, which bends a plain Poisson process
    into weekly and seasonal rhythm while keeping λ interpretable as visits per average day.
    """

    start: date
    days: int
    weekday: np.ndarray
    month: np.ndarray
    intensity: np.ndarray  # [profile, day], mean 1 over the whole span
    cumulative: np.ndarray
    local_midnight: np.ndarray  # epoch seconds of each day's local midnight (noon's UTC offset)
    second_location_opens: int  # the day index the second location opens

    @classmethod
    def build(cls, *, end: date, years: int, timezone: str) -> Calendar:
        days = round(365.25 * years)
        start = end - timedelta(days=days - 1)
        dates = [start + timedelta(days=d) for d in range(days)]
        weekday = np.array([d.weekday() for d in dates])
        month = np.array([d.month for d in dates])
        doy = np.array([d.timetuple().tm_yday for d in dates], dtype=float)
        day_factor = np.array(
            [
                0.0
                if (d.month, d.day) in _CLOSED
                else 0.5
                if (d.month, d.day) in _SHORT_DAYS
                else 1
                for d in dates
            ]
        )
        # Mid-month anchors, wrapped so that December flows into January.
        anchors = 15.5 + 30.44 * np.arange(-1, 13)
        intensity = np.empty((3, days))
        for profile in range(3):
            values = np.concatenate([_MONTH[profile][-1:], _MONTH[profile], _MONTH[profile][:1]])
            season = np.interp(doy, anchors, values)
            intensity[profile] = _WEEKDAY[profile][weekday] * season * day_factor
            intensity[profile] /= intensity[profile].mean()
        # The noon offset, not midnight's, is right for every opening hour on DST-change days.
        zone = ZoneInfo(timezone)
        local_midnight = np.array(
            [
                int(datetime.combine(d, time(12), tzinfo=zone).timestamp()) - 12 * 3600
                for d in dates
            ],
            dtype=np.int64,
        )
        return cls(
            start=start,
            days=days,
            weekday=weekday,
            month=month,
            intensity=intensity,
            cumulative=np.cumsum(intensity, axis=1),
            local_midnight=local_midnight,
            second_location_opens=int(days * 0.3),
        )

    def day_at(self, profile: np.ndarray, position: np.ndarray) -> np.ndarray:
        """The day on which a point of bent time falls (never a closed day)."""
        day = np.empty(len(position), dtype=np.int64)
        for p in range(3):
            mask = profile == p
            day[mask] = np.searchsorted(self.cumulative[p], position[mask], side="left")
        return np.minimum(day, self.days - 1)

    def timestamps(self, day: np.ndarray, minute: np.ndarray) -> np.ndarray:
        """Epoch seconds of a local day and minute (with seconds, as a till records them)."""
        return self.local_midnight[day] + (minute * 60).astype(np.int64)


def times_of_day(rng: np.random.Generator, profile: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Minutes after midnight: a morning rush on weekdays, later and longer at weekends.

    Every random number is drawn up front, so the result depends on the seed, not on grouping.
    """
    n = len(profile)
    pick, normal, fallback = rng.random(n), rng.standard_normal(n), rng.random(n)
    daytype = np.clip(weekday - 4, 0, 2)
    minute = np.empty(n)
    for p, by_daytype in _TIME_OF_DAY.items():
        for t, mixture in enumerate(by_daytype):
            mask = (profile == p) & (daytype == t)
            if not mask.any():
                continue
            means, sds, weights = (np.array(col, dtype=float) for col in zip(*mixture, strict=True))
            component = np.searchsorted(np.cumsum(weights) / weights.sum(), pick[mask])
            minute[mask] = means[component] + sds[component] * normal[mask]
    open_, close = _OPEN[weekday], _CLOSE[weekday]
    # The rare draw outside opening hours lands anywhere in them instead.
    outside = (minute < open_ + 2) | (minute > close - 5)
    minute = np.where(outside, open_ + 2 + fallback * (close - open_ - 7), minute)
    return minute


@dataclass
class People:
    """One batch of customers: their hidden behaviour parameters and visible traits."""

    tags: np.ndarray  # bool [n, len(TAGS)]
    profile: np.ndarray
    rate: np.ndarray  # λ, visits per average day while active
    dropout: np.ndarray  # p, the chance of leaving after each purchase
    spend_rate: np.ndarray  # ν: mean spend per visit is SPEND_P / ν
    fav_drink: np.ndarray
    fav_pastry: np.ndarray
    oat: np.ndarray  # takes oat milk
    home: np.ndarray  # 0 = first location, 1 = second
    join_day: np.ndarray
    join_minute: np.ndarray
    consent: np.ndarray
    consent_delay_days: np.ndarray
    has_note: np.ndarray
    note: np.ndarray


def draw_people(rng: np.random.Generator, n: int, cal: Calendar) -> People:
    """Draw n customers: traits, their hidden rates, and when and where they joined."""
    u = rng.random(n)
    tags = np.zeros((n, len(TAGS)), dtype=bool)
    tags[:, OFFICE] = u < 0.18
    tags[:, STUDENT] = (u >= 0.18) & (u < 0.30)
    tags[:, VEGAN] = rng.random(n) < 0.07
    tags[:, REMOTE] = (rng.random(n) < 0.06) & ~tags[:, OFFICE]
    tags[:, FAMILY] = (rng.random(n) < 0.08) & ~tags[:, STUDENT]
    profile = np.where(
        tags[:, OFFICE], OFFICE_HOURS, np.where(tags[:, STUDENT], TERM_TIME, GENERAL)
    )

    rate = rng.gamma(RATE_SHAPE, RATE_MEAN / RATE_SHAPE, n)
    spend_level = np.ones(n)
    for tag, factor in _RATE_BY_TAG.items():
        rate = np.where(tags[:, tag], rate * factor, rate)
    for tag, factor in _SPEND_BY_TAG.items():
        spend_level = np.where(tags[:, tag], spend_level * factor, spend_level)
    rate = np.minimum(rate, RATE_CAP)
    dropout = rng.beta(DROPOUT_A, DROPOUT_B, n)
    spend_rate = rng.gamma(SPEND_Q, 1 / SPEND_GAMMA, n) / spend_level

    fav_drink = _sample(rng, np.broadcast_to(menu.HABIT_DRINK_WEIGHTS, (n, len(menu.MENU))))
    pastry_w = np.where(tags[:, VEGAN, None], menu.IS_VEGAN, 1) * menu.HABIT_PASTRY_WEIGHTS
    fav_pastry = _sample(rng, pastry_w)
    oat = tags[:, VEGAN] | (rng.random(n) < 0.08)

    # Joining: more people join as word spreads, with bumps when each location opens.
    x = np.arange(cal.days) / cal.days
    since_second = np.arange(cal.days) - cal.second_location_opens
    growth = (
        0.35
        + 1.3 * x
        + 2.5 * np.exp(-np.arange(cal.days) / 10)
        + np.where(since_second >= 0, 1.2 * np.exp(-np.maximum(since_second, 0) / 14), 0)
    )
    join_u = rng.random(n)
    join_day = np.empty(n, dtype=np.int64)
    for p in range(3):
        mask = profile == p
        cum = np.cumsum(cal.intensity[p] * growth)
        join_day[mask] = np.searchsorted(cum, join_u[mask] * cum[-1], side="right")
    join_day = np.minimum(join_day, cal.days - 1)
    join_minute = times_of_day(rng, profile, cal.weekday[join_day])
    second_open = join_day >= cal.second_location_opens
    home = (second_open & (rng.random(n) < 0.4)).astype(np.int64)

    consent = rng.random(n) < 0.6
    # Most agree at the counter when they join; some later, from an e-mail or the card page.
    consent_delay_days = np.where(rng.random(n) < 0.85, 0, rng.integers(1, 200, n))
    has_note = rng.random(n) < 0.03
    note = rng.integers(0, 1 << 30, n)
    return People(
        tags=tags,
        profile=profile,
        rate=rate,
        dropout=dropout,
        spend_rate=spend_rate,
        fav_drink=fav_drink,
        fav_pastry=fav_pastry,
        oat=oat,
        home=home,
        join_day=join_day,
        join_minute=join_minute,
        consent=consent,
        consent_delay_days=consent_delay_days,
        has_note=has_note,
        note=note,
    )


@dataclass
class Visits:
    """Purchases as arrays, one element each: who (or -1 for a guest), when, where, what."""

    customer: np.ndarray
    day: np.ndarray
    minute: np.ndarray
    location: np.ndarray
    joining: np.ndarray  # the purchase the customer joined with


def draw_member_visits(rng: np.random.Generator, people: People, cal: Calendar) -> Visits:
    """Every purchase of a batch of customers, from their join to drop-out or the last day.

    Within bent time, the purchases of an active customer after joining are a Poisson process:
    given their count in (join, end], the points are uniform, so they are drawn in one vector.
    Drop-out after the k-th purchase (K ~ Geometric(p)) keeps the first K - 1 repeat purchases.
    """
    n = len(people.rate)
    purchases_before_leaving = rng.geometric(people.dropout)
    begin = cal.cumulative[people.profile, people.join_day]
    span = cal.cumulative[people.profile, -1] - begin
    count = rng.poisson(people.rate * span)
    owner = np.repeat(np.arange(n), count)
    position = begin[owner] + (1.0 - rng.random(len(owner))) * span[owner]
    order = np.lexsort((position, owner))
    owner, position = owner[order], position[order]
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    keep = rank < purchases_before_leaving[owner] - 1
    owner, position = owner[keep], position[keep]
    day = cal.day_at(people.profile[owner], position)
    minute = times_of_day(rng, people.profile[owner], cal.weekday[day])

    customer = np.concatenate([np.arange(n), owner])
    day = np.concatenate([people.join_day, day])
    minute = np.concatenate([people.join_minute, minute])
    joining = np.zeros(len(customer), dtype=bool)
    joining[:n] = True
    # Mostly at their own location; now and then at the other one, once it exists.
    away = (rng.random(len(customer)) > HOME_LOCATION_SHARE) & (day >= cal.second_location_opens)
    location = np.where(away, 1 - people.home[customer], people.home[customer])
    location = np.where(day >= cal.second_location_opens, location, 0)
    return Visits(customer, day, minute, location, joining)


def guest_day_counts(rng: np.random.Generator, cal: Calendar, total: int) -> np.ndarray:
    """Walk-in guests per day: the everyday rhythm, growing more slowly than membership."""
    x = np.arange(cal.days) / cal.days
    weights = cal.intensity[GENERAL] * (0.6 + 0.8 * x)
    return rng.multinomial(total, weights / weights.sum())


def draw_guest_visits(
    rng: np.random.Generator, cal: Calendar, days: np.ndarray, counts: np.ndarray
) -> Visits:
    day = np.repeat(days, counts)
    n = len(day)
    minute = times_of_day(rng, np.full(n, GENERAL), cal.weekday[day])
    opened = day >= cal.second_location_opens
    location = np.where(opened & (rng.random(n) < 0.4), 1, 0)
    return Visits(np.full(n, -1), day, minute, location, np.zeros(n, dtype=bool))


@dataclass
class Baskets:
    """Line items of n purchases: parallel arrays sorted by purchase, and totals in cents."""

    purchase: np.ndarray
    item: np.ndarray
    quantity: np.ndarray
    total_cents: np.ndarray


def spend_targets(rng: np.random.Generator, spend_rate: np.ndarray) -> np.ndarray:
    """Gamma-Gamma: what each visit is worth to the customer, in cents."""
    return rng.gamma(SPEND_P, 1.0 / spend_rate) * 100


def guest_spend_rates(rng: np.random.Generator, n: int) -> np.ndarray:
    """A fresh ν for every guest visit: guests are drawn from the population, spending less."""
    return rng.gamma(SPEND_Q, 1 / SPEND_GAMMA, n) / GUEST_SPEND


def fill_baskets(
    rng: np.random.Generator,
    *,
    budget: np.ndarray,
    month: np.ndarray,
    minute: np.ndarray,
    fav_drink: np.ndarray,
    fav_pastry: np.ndarray,
    vegan: np.ndarray,
    oat: np.ndarray,
) -> Baskets:
    """Turn each visit's spend into menu items, the way people order at a counter.

    Most start with a drink (their usual one more often than not, but a cold one in summer),
    then add what fits the rest of their budget and the time of day: a pastry in the morning,
    a sandwich at lunch, cake in the afternoon, a second coffee for a friend. The basket's
    total is the sum of its lines, so spend tracks the customer's level without matching it.
    """
    n = len(budget)
    season = menu.SEASON_OF_MONTH[month]
    daypart = menu.daypart_of(minute)
    budget = budget * DAYPART_SPEND[daypart]
    rows, items = [], []

    with_drink = rng.random(n) < 0.9
    drink = _sample(rng, menu.DRINK_WEIGHTS[season, daypart])
    usual = (fav_drink >= 0) & (rng.random(n) < np.where(season == menu.SUMMER, 0.4, 0.6))
    drink = np.where(usual, fav_drink, drink)
    idx = np.flatnonzero(with_drink)
    rows.append(idx)
    items.append(drink[idx])
    budget[idx] -= menu.PRICE[drink[idx]]
    idx = np.flatnonzero(with_drink & menu.IS_MILK[drink] & oat)
    rows.append(idx)
    items.append(np.full(len(idx), menu.OAT))
    budget[idx] -= menu.PRICE[menu.OAT]

    has_item = with_drink.copy()
    allowed_for = np.where(vegan[:, None], menu.IS_VEGAN[None, :], True)
    for slot in range(5):
        active = np.flatnonzero((budget >= 150) | ~has_item)
        if len(active) == 0:
            break
        weights = menu.EXTRA_WEIGHTS[season[active], daypart[active]] * allowed_for[active]
        # Within budget, give or take small change; whoever has nothing yet takes anything.
        affordable = menu.PRICE[None, :] <= budget[active, None] + 80
        weights = weights * (affordable | ~has_item[active, None])
        choice = _sample(rng, weights)
        if slot == 0:
            pastry = fav_pastry[active]
            usual = (pastry >= 0) & (rng.random(len(active)) < 0.35)
            usual &= menu.PRICE[np.maximum(pastry, 0)] <= budget[active] + 80
            choice = np.where(usual, pastry, choice)
        ok = choice >= 0
        active, choice = active[ok], choice[ok]
        rows.append(active)
        items.append(choice)
        budget[active] -= menu.PRICE[choice]
        has_item[active] = True

    row, item = np.concatenate(rows), np.concatenate(items)
    # The same item twice in one order is one line with quantity 2.
    key, quantity = np.unique(row * len(menu.MENU) + item, return_counts=True)
    row, item = key // len(menu.MENU), key % len(menu.MENU)
    total = np.bincount(row, weights=menu.PRICE[item] * quantity, minlength=n).astype(np.int64)
    return Baskets(row, item, quantity, total)


def draw_refunds(
    rng: np.random.Generator, baskets: Baskets, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Which purchases get a refund, how much (cents), a reason index and the delay in minutes.

    Most refunds give the whole order back (charged twice, order cancelled); the others give back
    one unit of the last item (a stale cake, a sold-out sandwich).
    """
    u, kind, reason, delay = rng.random(n), rng.random(n), rng.random(n), rng.random(n)
    refunded = np.flatnonzero(u < REFUND_RATE)
    last_line = np.searchsorted(baskets.purchase, refunded, side="right") - 1
    first_line = np.searchsorted(baskets.purchase, refunded, side="left")
    partial = (kind[refunded] < 0.4) & (last_line > first_line)
    amount = np.where(partial, menu.PRICE[baskets.item[last_line]], baskets.total_cents[refunded])
    reason_index = (reason[refunded] * 3).astype(np.int64) + np.where(partial, 3, 0)
    return refunded, amount, reason_index, 2 + delay[refunded] * 40


REFUND_REASONS = [
    "Charged twice",
    "Order cancelled",
    "Card payment went through twice",
    "Cake was stale",
    "Item sold out after payment",
    "Wrong item made",
]


def _sample(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One categorical draw per row of weights; -1 where a row has no weight at all."""
    cumulative = np.cumsum(weights, axis=1)
    total = cumulative[:, -1]
    u = rng.random(len(weights)) * total
    choice = (cumulative <= u[:, None]).sum(axis=1)
    return np.where(total > 0, np.minimum(choice, weights.shape[1] - 1), -1)
