r"""BG/NBD: how often customers buy, and how likely they are to still be customers.

The beta-geometric / negative binomial distribution model of Fader, Hardie & Lee (2005).

Assumptions
-----------
1. While active, customer i buys as a Poisson process with rate :math:`\lambda_i`
   (exponential times between purchases).
2. :math:`\lambda_i \sim \mathrm{Gamma}(r, \alpha)` across customers (shape r, rate α).
3. Right after each *repeat* purchase customer i drops out for good with probability
   :math:`p_i`; the dropout point is never observed.
4. :math:`p_i \sim \mathrm{Beta}(a, b)` across customers.
5. :math:`\lambda_i` and :math:`p_i` are independent.

Data per customer: x repeat purchases, the last at :math:`t_x`, observed for T since the first.

Likelihood (FHL 2005, eq. 6), with :math:`\delta_{x>0} = 1` when x > 0:

.. math::

    L(r, \alpha, a, b \mid x, t_x, T) =
        \frac{B(a, b + x)}{B(a, b)} \frac{\Gamma(r + x)\, \alpha^r}{\Gamma(r)\,(\alpha + T)^{r + x}}
        + \delta_{x>0} \frac{B(a + 1, b + x - 1)}{B(a, b)}
          \frac{\Gamma(r + x)\, \alpha^r}{\Gamma(r)\,(\alpha + t_x)^{r + x}}

computed in logs as :math:`A_1 + A_2 + \log(e^{A_3} + \delta_{x>0} e^{A_4})` (FHL's note 004
"Implementing the BG/NBD model"), with ``logaddexp`` so that customers with hundreds of
purchases neither overflow nor underflow.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An
Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2008). Computing P(alive) Using the BG/NBD Model.
http://www.brucehardie.com/notes/021/
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, expit, gammaln, hyp2f1

from ._optim import minimise, standard_errors

PARAM_NAMES = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters; ``alpha`` is in the time unit of the data it was fitted on."""

    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


def _dot(u: NDArray, v: NDArray) -> float:
    # einsum, not `@`: BLAS ddot spends milliseconds waking threads for arrays of this size.
    return float(np.einsum("i,i->", u, v))


class _Prepared:
    r"""The data in the shape the likelihood is cheapest to evaluate in.

    With :math:`\log(e^{A_3} + e^{A_4}) = A_3 + \mathrm{softplus}(A_4 - A_3)`:

    - :math:`A_1 + A_2` depend on x alone: summed once per distinct x, with its total weight;
    - :math:`A_3 = -(r + x)\log(\alpha + T)` is linear in r and x: summed once per distinct
      time, with the total weight and total weight·x of the customers of that age;
    - only customers with x > 0 need the softplus term, once per distinct (x, t_x, T) with the
      summed weight, their logs of :math:`\alpha + t_x` and :math:`\alpha + T` gathered from
      one table of distinct times (a few hundred values for data in days).
    """

    def __init__(self, x: NDArray, tx: NDArray, T: NDArray, w: NDArray) -> None:
        self.total = float(w.sum())
        self.ux, x_index = np.unique(x, return_inverse=True)
        self.wx = np.bincount(x_index, weights=w, minlength=len(self.ux))
        self.times, time_index = np.unique(np.concatenate([T, tx]), return_inverse=True)
        n_times = len(self.times)
        T_index, tx_index = time_index[: len(T)], time_index[len(T) :]
        self.w_by_time = np.bincount(T_index, weights=w, minlength=n_times)
        self.wx_by_time = np.bincount(T_index, weights=w * x, minlength=n_times)

        some = x > 0
        xi, ti, Ti, ws = x_index[some], tx_index[some], T_index[some], w[some]
        # Identical (x, t_x, T) rows share every term: keep one of each with the summed weight.
        # One int64 key per row sorts ~8x faster than a lexicographic sort of three columns.
        if len(self.ux) * n_times * n_times < 2**62:
            key = (xi * n_times + ti) * n_times + Ti
            unique_key, inverse = np.unique(key, return_inverse=True)
            ws = np.bincount(inverse, weights=ws, minlength=len(unique_key))
            xi, rest = np.divmod(unique_key, n_times * n_times)
            ti, Ti = np.divmod(rest, n_times)
        self.first_repeat_x = int(np.searchsorted(self.ux, 0.0, side="right"))
        self.x1, self.w1 = self.ux[xi], ws
        self.x1_index = xi - self.first_repeat_x
        self.T1_index, self.tx1_index = Ti, ti


def _negative_log_likelihood(
    log_params: NDArray[np.float64], data: _Prepared
) -> tuple[float, NDArray[np.float64]]:
    """Mean negative log-likelihood per customer and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    ux, wx = data.ux, data.wx

    # A_1 + A_2, per distinct x.
    ll = _dot(
        wx,
        gammaln(r + ux)
        - gammaln(r)
        + gammaln(a + b)
        + gammaln(b + ux)
        - gammaln(b)
        - gammaln(a + b + ux),
    ) + data.total * r * np.log(alpha)
    psi_ab = digamma(a + b)
    psi_abx = digamma(a + b + ux)
    d_r = _dot(wx, digamma(r + ux) - digamma(r)) + data.total * np.log(alpha)
    d_alpha = data.total * r / alpha
    d_a = _dot(wx, psi_ab - psi_abx)
    d_b = _dot(wx, psi_ab + digamma(b + ux) - digamma(b) - psi_abx)

    # A_3, per distinct time.
    log_times = np.log(alpha + data.times)
    inv_times = 1.0 / (alpha + data.times)
    rx_weight = r * data.w_by_time + data.wx_by_time
    ll -= _dot(rx_weight, log_times)
    d_r -= _dot(data.w_by_time, log_times)
    d_alpha -= _dot(rx_weight, inv_times)

    # softplus(A_4 - A_3) for customers with x > 0.
    x, w = data.x1, data.w1
    log_gap = log_times[data.tx1_index] - log_times[data.T1_index]
    rx = r + x
    repeat_x = ux[data.first_repeat_x :]
    offset = (np.log(a) - np.log(b + repeat_x - 1))[data.x1_index]
    d = offset - rx * log_gap  # A_4 - A_3
    # softplus(d) and expit(d) from one exp, stable for any d.
    e = np.exp(-np.abs(d))
    s = 1.0 / (1.0 + e)
    ll += _dot(w, np.maximum(d, 0.0) + np.log1p(e))
    wp4 = w * np.where(d >= 0, s, e * s)  # weight · P(the "dropped out after x" branch | data)
    d_r -= _dot(wp4, log_gap)
    d_alpha -= _dot(wp4 * rx, inv_times[data.tx1_index] - inv_times[data.T1_index])
    d_a += float(wp4.sum()) / a
    d_b -= _dot(wp4, (1.0 / (b + repeat_x - 1))[data.x1_index])

    gradient = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return -ll / data.total, -gradient / data.total


def _as_float_arrays(*values: ArrayLike) -> list[NDArray[np.float64]]:
    return [np.asarray(v, dtype=float) for v in values]


class BGNBD:
    r"""The BG/NBD model: fit on (x, t_x, T), predict purchases and P(alive).

    Attributes
    ----------
    params : BGNBDParams
        r, alpha (shape and rate of the purchase-rate Gamma), a, b (of the dropout Beta).
    log_likelihood : float
        Total log-likelihood at ``params``, in the time unit of the fitted data.
    standard_errors : dict[str, float]
        Asymptotic standard errors from the observed information (delta method).
    n_customers : float
        Customers the model was fitted on (sum of the weights).

    Examples
    --------
    >>> model = BGNBD().fit(summary.frequency, summary.recency, summary.T)
    >>> model.conditional_expected_purchases(90, summary.frequency, summary.recency, summary.T)
    """

    params: BGNBDParams
    log_likelihood: float
    standard_errors: dict[str, float]
    n_customers: float

    def __init__(self, params: BGNBDParams | None = None) -> None:
        if params is not None:
            self.params = params

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        *,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Maximum-likelihood estimates of r, alpha, a, b.

        Parameters
        ----------
        frequency, recency, T : array_like
            x (repeat purchases), t_x (time of the last one since the first purchase) and T
            (time since the first purchase) per customer, or per distinct triple with
            ``weights``.
        weights : array_like, optional
            Number of customers with each row. Identical rows are collapsed in any case, so
            the cost grows with the number of distinct (x, t_x, T) triples, not customers.

        Notes
        -----
        Minimises the mean negative log-likelihood over the logs of the parameters (so they stay
        positive) with BFGS and the analytic gradient, then polishes with Newton steps. Time is
        rescaled so that max(T) = 10 while fitting (only alpha depends on the unit).
        """
        x, tx, T_ = _as_float_arrays(frequency, recency, T)
        _check_rft(x, tx, T_)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != x.shape or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
        if not np.any(x > 0):
            raise ValueError("no customer has a repeat purchase: BG/NBD cannot be fitted")

        scale = 10.0 / T_.max() if T_.max() > 0 else 1.0
        data = _Prepared(x, tx * scale, T_ * scale, w)

        def objective(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            return _negative_log_likelihood(theta, data)

        log_params, hessian = minimise(objective, np.zeros(4))
        nll_per_customer, _ = objective(log_params)
        se = standard_errors(hessian, log_params, data.total)
        r, alpha, a, b = np.exp(log_params)
        self.params = BGNBDParams(r=float(r), alpha=float(alpha / scale), a=float(a), b=float(b))
        self.standard_errors = dict(
            zip(
                PARAM_NAMES,
                (float(se[0]), float(se[1] / scale), float(se[2]), float(se[3])),
                strict=True,
            )
        )
        self.n_customers = data.total
        # Rescaling time by s (and alpha with it) multiplies each likelihood by s^-x.
        self.log_likelihood = -nll_per_customer * data.total + np.log(scale) * _dot(w, x)
        return self

    def total_log_likelihood(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        *,
        weights: ArrayLike | None = None,
    ) -> float:
        """Log-likelihood of the data at ``self.params`` (FHL 2005, eq. 6, summed)."""
        x, tx, T_ = _as_float_arrays(frequency, recency, T)
        _check_rft(x, tx, T_)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        p = self.params
        theta = np.log([p.r, p.alpha, p.a, p.b])
        value, _ = _negative_log_likelihood(theta, _Prepared(x, tx, T_, w))
        return -value * float(w.sum())

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> NDArray:
        r"""P(still active | x, t_x, T) (Fader, Hardie & Lee 2008, note 021, eq. 2).

        .. math::

            P(\text{alive} \mid x, t_x, T) = \left[1 + \delta_{x>0} \frac{a}{b + x - 1}
                \left(\frac{\alpha + T}{\alpha + t_x}\right)^{r + x}\right]^{-1}

        Evaluated as ``expit(-log(...))`` so that large x cannot overflow. A customer with no
        repeat purchase cannot have dropped out (dropout follows a repeat purchase): P = 1.
        """
        r, alpha, a, b = self._unpack()
        x, tx, T_ = np.broadcast_arrays(*_as_float_arrays(frequency, recency, T))
        safe_x = np.maximum(x, 1.0)
        log_odds = (
            np.log(a)
            - np.log(b + safe_x - 1)
            + (r + safe_x) * (np.log(alpha + T_) - np.log(alpha + tx))
        )
        return np.where(x > 0, expit(-log_odds), 1.0)

    def conditional_expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> NDArray:
        r"""E[Y(t) | x, t_x, T]: expected repeat purchases in the next t (FHL 2005, eq. 10).

        .. math::

            E[Y(t) \mid x, t_x, T] = P(\text{alive} \mid x, t_x, T)\,
                \frac{a + b + x - 1}{a - 1}
                \left[1 - \left(\frac{\alpha + T}{\alpha + T + t}\right)^{r + x}
                {}_2F_1\!\left(r + x, b + x; a + b + x - 1; \frac{t}{\alpha + T + t}\right)\right]

        The Gaussian hypergeometric term is evaluated after Euler's transformation
        :math:`{}_2F_1(A, B; C; z) = (1 - z)^{C - A - B} {}_2F_1(C - A, C - B; C; z)`, i.e. as
        :math:`(1 - z)^{a - 1}\, {}_2F_1(a + b - 1 - r, a - 1; a + b + x - 1; z)`, whose first two
        arguments do not grow with x: for customers with hundreds of purchases the direct form
        overflows, this one stays near 1. Undefined for a = 1 exactly. ``t`` broadcasts against
        the customers (e.g. ``t[:, None]`` for a grid of horizons).
        """
        alive = self.probability_alive(frequency, recency, T)
        x, T_ = _as_float_arrays(frequency, T)
        return alive * self._expected_if_alive(np.asarray(t, dtype=float), x, T_)

    predict = conditional_expected_purchases

    def expected_purchases(self, t: ArrayLike) -> NDArray:
        r"""E[X(t)]: expected repeat purchases in a new customer's first t (FHL 2005, eq. 9).

        .. math::

            E[X(t)] = \frac{a + b - 1}{a - 1}
                \left[1 - \left(\frac{\alpha}{\alpha + t}\right)^r
                {}_2F_1\!\left(r, b; a + b - 1; \frac{t}{\alpha + t}\right)\right]

        the conditional expectation of a customer with x = t_x = T = 0.
        """
        t = np.asarray(t, dtype=float)
        return self._expected_if_alive(t, np.zeros_like(t), np.zeros_like(t))

    def _expected_if_alive(self, t: NDArray, x: NDArray, T: NDArray) -> NDArray:
        r, alpha, a, b = self._unpack()
        z = t / (alpha + T + t)
        c = a + b + x - 1
        log_tail = (a - 1) * np.log1p(-z) + np.log(hyp2f1(a + b - 1 - r, a - 1, c, z))
        return c / (a - 1) * -np.expm1(log_tail)

    def _unpack(self) -> tuple[float, float, float, float]:
        try:
            p = self.params
        except AttributeError:
            raise ValueError("the model has not been fitted: call fit() first") from None
        return p.r, p.alpha, p.a, p.b


def _check_rft(x: NDArray, tx: NDArray, T: NDArray) -> None:
    if not (x.shape == tx.shape == T.shape) or x.ndim != 1:
        raise ValueError("frequency, recency and T must be 1-d arrays of the same length")
    if len(x) == 0:
        raise ValueError("no customers")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(tx)) and np.all(np.isfinite(T))):
        raise ValueError("frequency, recency and T must be finite")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must be a whole number >= 0")
    if np.any(tx < 0) or np.any(tx > T):
        raise ValueError("recency must be between 0 and T")
    if np.any((x == 0) & (tx != 0)):
        raise ValueError("a customer with frequency 0 must have recency 0")
