"""Seeded simulations of the BG/NBD purchase process and Gamma-Gamma spend.

Used by the parameter-recovery tests and the benchmark; vectorised, no loop per customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class SimulatedCustomers:
    """Observed (x, t_x, T) and the hidden purchase rate and dropout probability per customer."""

    frequency: NDArray[np.int64]
    recency: NDArray[np.float64]
    T: NDArray[np.float64]
    purchase_rate: NDArray[np.float64]
    dropout_probability: NDArray[np.float64]


def simulate_bgnbd(
    T: ArrayLike, *, r: float, alpha: float, a: float, b: float, rng: np.random.Generator
) -> SimulatedCustomers:
    """Draw one purchase history per customer from the BG/NBD process, observed for T each.

    Per customer: λ ~ Gamma(r, rate α) and p ~ Beta(a, b); dropout follows the J-th repeat
    purchase with J ~ Geometric(p) on {1, 2, ...}; while active, purchases arrive as a Poisson
    process of rate λ, n ~ Poisson(λT) of them in (0, T]. The customer shows x = min(J, n)
    repeat purchases, and the last one is the x-th of n ordered uniform times on (0, T]:
    t_x = T · Beta(x, n - x + 1). That is exact, and needs no loop over purchases.
    """
    T = np.asarray(T, dtype=float)
    n_customers = T.shape[0]
    rate = rng.gamma(r, 1.0 / alpha, size=n_customers)
    # A Beta draw can round to 0, which Geometric does not accept; 1e-12 means "never leaves".
    dropout = np.clip(rng.beta(a, b, size=n_customers), 1e-12, 1.0)
    lifetime_purchases = rng.geometric(dropout)
    arrivals = rng.poisson(rate * T)
    x = np.minimum(lifetime_purchases, arrivals)
    some = x > 0
    recency = np.zeros(n_customers)
    recency[some] = T[some] * rng.beta(x[some], arrivals[some] - x[some] + 1)
    return SimulatedCustomers(
        frequency=x.astype(np.int64),
        recency=recency,
        T=T,
        purchase_rate=rate,
        dropout_probability=dropout,
    )


def simulate_purchase_times(
    frequency: ArrayLike, recency: ArrayLike, *, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Times of every purchase (the first at 0) consistent with each customer's (x, t_x).

    Given x repeat purchases in (0, T] with the last at t_x, the other x - 1 are uniform on
    (0, t_x) (order statistics of a Poisson process). Returns (customer index, time) pairs,
    x + 1 per customer.
    """
    x = np.asarray(frequency, dtype=np.int64)
    tx = np.asarray(recency, dtype=float)
    customer = np.arange(len(x))
    first = (customer, np.zeros(len(x)))
    last = (customer[x > 0], tx[x > 0])
    middle_owner = np.repeat(customer, np.maximum(x - 1, 0))
    middle = (middle_owner, rng.uniform(0.0, 1.0, size=len(middle_owner)) * tx[middle_owner])
    owner = np.concatenate([first[0], last[0], middle[0]])
    time = np.concatenate([first[1], last[1], middle[1]])
    order = np.lexsort((time, owner))
    return owner[order], time[order]


def simulate_spend(
    purchases: ArrayLike, *, p: float, q: float, gamma: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Spend of each purchase under the Gamma-Gamma model, customer by customer.

    Per customer ν ~ Gamma(q, rate γ); each of their purchases z ~ Gamma(p, rate ν). Returns
    ``sum(purchases)`` amounts, the first ``purchases[0]`` belonging to customer 0, and so on.
    """
    counts = np.asarray(purchases, dtype=np.int64)
    nu = rng.gamma(q, 1.0 / gamma, size=len(counts))
    return rng.gamma(p, 1.0 / np.repeat(nu, counts))
