r"""Gamma-Gamma: how much a customer spends per purchase, and their discounted lifetime value.

Assumptions (Fader, Hardie & Lee 2005b; Fader & Hardie 2013)
-----------------------------------------------------------
1. The spend :math:`z_{ij}` of customer i's purchases varies around their own mean
   :math:`\zeta_i`: :math:`z_{ij} \sim \mathrm{Gamma}(p, \nu_i)` (shape p, rate ν_i), so
   :math:`\zeta_i = p / \nu_i`.
2. :math:`\nu_i \sim \mathrm{Gamma}(q, \gamma)` across customers (shape q, rate γ).
3. Spend is independent of how often and how long a customer buys (check it: the correlation
   of frequency and mean spend among repeat customers should be near 0).

Only the mean :math:`\bar z` of a customer's x repeat purchases is used; its density is

.. math::

    f(\bar z \mid p, q, \gamma, x) = \frac{\Gamma(px + q)}{\Gamma(px)\,\Gamma(q)}
        \frac{\gamma^q\, \bar z^{px - 1}\, x^{px}}{(\gamma + x \bar z)^{px + q}}

which is the likelihood maximised here (customers with x > 0 only).

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005b). RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis. Journal of Marketing Research 42(4), 415-430.
Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.
http://www.brucehardie.com/notes/025/
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, gammaln

from ._optim import minimise, standard_errors
from .bgnbd import BGNBD

PARAM_NAMES = ("p", "q", "gamma")

# Months in the time unit of the data, as lifetimes' customer_lifetime_value counts them
# (30 days; 4.345 weeks), so that CLV figures can be compared with it.
PERIODS_PER_MONTH: dict[str, float] = {"days": 30.0, "weeks": 4.345}


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters (``gamma`` is called v in lifetimes)."""

    p: float
    q: float
    gamma: float

    def as_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}


def _dot(u: NDArray, v: NDArray) -> float:
    # einsum, not `@`: BLAS ddot spends milliseconds waking threads for arrays of this size.
    return float(np.einsum("i,i->", u, v))


class _Prepared:
    r"""Sums that do not depend on the parameters, and the per-x groups.

    The log-likelihood is :math:`\sum_x W_x [\ln\Gamma(px + q) - \ln\Gamma(px) -
    \ln\Gamma(q)] + W q \ln\gamma + p \sum w x \ln(x \bar z) - \sum w \ln \bar z -
    \sum w (px + q) \ln(\gamma + x \bar z)`: the Gamma functions are needed once per distinct
    x, and only the last sum once per customer.
    """

    def __init__(self, x: NDArray, m: NDArray, w: NDArray) -> None:
        self.total = float(w.sum())
        self.ux, x_index = np.unique(x, return_inverse=True)
        self.wx_by_x = np.bincount(x_index, weights=w, minlength=len(self.ux))
        self.w, self.xw, self.xm = w, w * x, x * m
        self.sum_xw_log_xm = _dot(self.xw, np.log(self.xm))
        self.sum_w_log_m = _dot(w, np.log(m))


def _negative_log_likelihood(
    log_params: NDArray[np.float64], data: _Prepared
) -> tuple[float, NDArray[np.float64]]:
    """Mean negative log-likelihood per customer and its gradient in log-parameters."""
    p, q, g = np.exp(log_params)
    ux, wx = data.ux, data.wx_by_x
    pxq, px = p * ux + q, p * ux
    log_gxm = np.log(g + data.xm)
    inv_gxm = 1.0 / (g + data.xm)
    sum_xw_log, sum_w_log = _dot(data.xw, log_gxm), _dot(data.w, log_gxm)
    ll = (
        _dot(wx, gammaln(pxq) - gammaln(px) - gammaln(q))
        + data.total * q * np.log(g)
        + p * data.sum_xw_log_xm
        - data.sum_w_log_m
        - p * sum_xw_log
        - q * sum_w_log
    )
    psi_pxq = digamma(pxq)
    d_p = _dot(wx * ux, psi_pxq - digamma(px)) + data.sum_xw_log_xm - sum_xw_log
    d_q = _dot(wx, psi_pxq - digamma(q)) + data.total * np.log(g) - sum_w_log
    d_g = data.total * q / g - p * _dot(data.xw, inv_gxm) - q * _dot(data.w, inv_gxm)
    gradient = np.array([d_p * p, d_q * q, d_g * g])
    return -ll / data.total, -gradient / data.total


class GammaGamma:
    r"""The Gamma-Gamma spend model: fit on (x, mean repeat spend), predict expected spend.

    Attributes
    ----------
    params : GammaGammaParams
        p (shape of a customer's spend), q and gamma (shape and rate of the spend-rate Gamma).
    log_likelihood : float
        Total log-likelihood of the mean spends at ``params``.
    standard_errors : dict[str, float]
        Asymptotic standard errors from the observed information (delta method).
    n_customers : float
        Repeat customers the model was fitted on.
    """

    params: GammaGammaParams
    log_likelihood: float
    standard_errors: dict[str, float]
    n_customers: float

    def __init__(self, params: GammaGammaParams | None = None) -> None:
        if params is not None:
            self.params = params

    def fit(
        self, frequency: ArrayLike, monetary_value: ArrayLike, *, weights: ArrayLike | None = None
    ) -> Self:
        """Maximum-likelihood estimates of p, q, gamma.

        Parameters
        ----------
        frequency : array_like
            x, the number of repeat purchases; every value must be > 0 (select the repeat
            customers first: ``summary.frequency > 0``).
        monetary_value : array_like
            Mean spend of those repeat purchases, > 0.
        weights : array_like, optional
            Number of customers with each row.
        """
        x, m = _check_xm(frequency, monetary_value)
        if np.any(x <= 0):
            raise ValueError("Gamma-Gamma is fitted on repeat customers only (frequency > 0)")
        if np.any(m <= 0):
            raise ValueError("Gamma-Gamma needs a positive mean spend for every customer")
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != x.shape or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights must be non-negative, one per customer, with positive sum")
        # Spend is rescaled to mean 1 while fitting; only gamma carries the currency unit.
        scale = 1.0 / float(np.average(m, weights=w))
        ms = m * scale
        data = _Prepared(x, ms, w)

        def objective(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            return _negative_log_likelihood(theta, data)

        log_params, hessian = minimise(objective, np.zeros(3))
        se = standard_errors(hessian, log_params, float(w.sum()))
        p, q, g = np.exp(log_params)
        self.params = GammaGammaParams(p=float(p), q=float(q), gamma=float(g / scale))
        self.standard_errors = dict(
            zip(PARAM_NAMES, (float(se[0]), float(se[1]), float(se[2] / scale)), strict=True)
        )
        self.n_customers = float(w.sum())
        self.log_likelihood = self.total_log_likelihood(x, m, weights=w)
        return self

    def total_log_likelihood(
        self, frequency: ArrayLike, monetary_value: ArrayLike, *, weights: ArrayLike | None = None
    ) -> float:
        """Log-likelihood of the mean spends at ``self.params``, summed over customers."""
        x, m = _check_xm(frequency, monetary_value)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        pr = self.params
        theta = np.log([pr.p, pr.q, pr.gamma])
        value, _ = _negative_log_likelihood(theta, _Prepared(x, m, w))
        return -value * float(w.sum())

    def population_mean_spend(self) -> float:
        r"""E[Z] = pγ / (q - 1), the mean spend per purchase across customers (needs q > 1)."""
        p, q, g = self._unpack()
        if q <= 1:
            raise ValueError(f"q = {q:.3g} <= 1: the mean spend per purchase is unbounded")
        return p * g / (q - 1)

    def conditional_expected_spend(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> NDArray[np.float64]:
        r"""E[Z | x, z̄]: expected spend per future purchase (Fader & Hardie 2013, eq. 5).

        .. math::

            E[Z \mid p, q, \gamma, x, \bar z] = \frac{q - 1}{px + q - 1}\,\frac{p\gamma}{q - 1}
                + \frac{px}{px + q - 1}\,\bar z

        a weighted mean of the population mean and the customer's own mean, the weight of the
        latter growing with x. Customers with x = 0 get the population mean.
        """
        p, q, _ = self._unpack()
        x, m = np.broadcast_arrays(*_check_xm(frequency, monetary_value, allow_zero=True))
        population = self.population_mean_spend()
        own = p * x / (p * x + q - 1)
        return (1 - own) * population + own * np.where(x > 0, m, 0.0)

    def customer_lifetime_value(
        self,
        transactions: BGNBD,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        monetary_value: ArrayLike,
        *,
        months: int = 12,
        discount_rate: float = 0.01,
        periods_per_month: float = PERIODS_PER_MONTH["days"],
    ) -> NDArray[np.float64]:
        r"""Discounted expected spend over the next ``months`` months, per customer.

        .. math::

            \mathrm{CLV} = \sum_{k=1}^{K} \frac{E[Z \mid x, \bar z]\,
                \big(E[Y(k\tau) \mid x, t_x, T] - E[Y((k-1)\tau) \mid x, t_x, T]\big)}{(1 + d)^k}

        with τ = ``periods_per_month`` (30 days or 4.345 weeks), d the monthly discount rate and
        Y from the fitted BG/NBD model: each month's expected purchases, times the expected
        spend per purchase, discounted to today. Same definition as lifetimes'
        ``GammaGammaFitter.customer_lifetime_value`` (whose code is not used here).

        Assumes spend and purchase process are independent (Gamma-Gamma assumption 3).
        """
        if months < 1:
            raise ValueError("months must be at least 1")
        if discount_rate <= -1:
            raise ValueError("discount_rate must be > -1")
        spend = self.conditional_expected_spend(frequency, monetary_value)
        x, tx, T_ = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        horizons = periods_per_month * np.arange(months + 1, dtype=float)
        cumulative = transactions.conditional_expected_purchases(horizons[:, None], x, tx, T_)
        per_month = np.diff(cumulative, axis=0)
        discount = (1.0 + discount_rate) ** -np.arange(1, months + 1, dtype=float)
        return spend * (discount @ per_month)

    def _unpack(self) -> tuple[float, float, float]:
        try:
            p = self.params
        except AttributeError:
            raise ValueError("the model has not been fitted: call fit() first") from None
        return p.p, p.q, p.gamma


def _check_xm(
    frequency: ArrayLike, monetary_value: ArrayLike, *, allow_zero: bool = False
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(m))):
        raise ValueError("frequency and monetary_value must be finite")
    if not allow_zero and (x.ndim != 1 or x.shape != m.shape or len(x) == 0):
        raise ValueError("frequency and monetary_value must be 1-d arrays of the same length")
    if np.any(x < 0):
        raise ValueError("frequency must be >= 0")
    return x, m
