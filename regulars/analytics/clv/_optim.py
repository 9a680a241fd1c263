"""Maximum likelihood on log-parameters, shared by the CLV models."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

ObjectiveWithGradient = Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]


class ConvergenceError(RuntimeError):
    """The optimiser could not find a maximum of the likelihood."""


def minimise(
    objective: ObjectiveWithGradient, x0: NDArray[np.float64], *, gtol: float = 1e-5
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Minimise a smooth objective given with its analytic gradient; return (argmin, Hessian).

    BFGS to a moderate gradient tolerance, then Newton steps on a Hessian differenced from the
    analytic gradient: near the optimum Newton converges quadratically, so a few gradient calls
    take the estimate to the precision published values are quoted at (4+ significant digits),
    and the same Hessian gives the standard errors.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = minimize(
            objective, x0, jac=True, method="BFGS", options={"gtol": gtol, "maxiter": 2000}
        )
    x = np.asarray(result.x, dtype=float)
    value, gradient = objective(x)
    if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
        raise ConvergenceError(f"the likelihood is not finite at the optimum ({result.message})")
    hessian = numerical_hessian(objective, x, gradient)
    for _ in range(4):
        if np.max(np.abs(gradient)) < 1e-10:
            break
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            break
        candidate = x - step
        new_value, new_gradient = objective(candidate)
        if not np.isfinite(new_value) or new_value > value + 1e-12 * abs(value):
            break
        x, value, gradient = candidate, new_value, new_gradient
    if np.max(np.abs(gradient)) > 1e-4:
        raise ConvergenceError(
            f"the fit did not converge ({result.message}; largest gradient "
            f"{np.max(np.abs(gradient)):.2g}): the data may not carry enough repeat purchases"
        )
    return x, hessian


def numerical_hessian(
    objective: ObjectiveWithGradient,
    x: NDArray[np.float64],
    gradient: NDArray[np.float64],
    step: float = 1e-6,
) -> NDArray[np.float64]:
    """Hessian by forward differences of the analytic gradient (one call per parameter)."""
    n = len(x)
    hessian = np.empty((n, n))
    for i in range(n):
        shifted = x.copy()
        shifted[i] += step
        hessian[i] = (objective(shifted)[1] - gradient) / step
    return (hessian + hessian.T) / 2


def standard_errors(
    hessian: NDArray[np.float64], log_params: NDArray[np.float64], total_weight: float
) -> NDArray[np.float64]:
    """Asymptotic standard errors of exp(log_params) from the observed information.

    ``hessian`` is that of the mean negative log-likelihood per customer in log-parameters, so
    the information matrix is ``total_weight`` times it; the delta method carries the log-scale
    variances back to the parameters: se(θ) = θ · se(log θ). NaN where it is not invertible.
    """
    try:
        covariance = np.linalg.inv(hessian * total_weight)
    except np.linalg.LinAlgError:
        return np.full(len(log_params), np.nan)
    variances = np.diag(covariance)
    with np.errstate(invalid="ignore"):
        return np.exp(log_params) * np.sqrt(np.where(variances >= 0, variances, np.nan))
