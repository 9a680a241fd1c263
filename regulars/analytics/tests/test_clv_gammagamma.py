"""Gamma-Gamma spend and CLV: published CDNOW estimates, closed forms, parameter recovery."""

from __future__ import annotations

import numpy as np
import pytest

from regulars.analytics.clv import BGNBD, PERIODS_PER_MONTH, GammaGamma, GammaGammaParams
from regulars.analytics.clv.simulate import simulate_spend

# Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value", 946 CDNOW repeat customers.
PUBLISHED = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@pytest.fixture(scope="module")
def repeat_customers(cdnow_monetary):
    return cdnow_monetary[cdnow_monetary["x"] > 0]


@pytest.fixture(scope="module")
def cdnow_models(cdnow_monetary, repeat_customers):
    s, r = cdnow_monetary, repeat_customers
    return BGNBD().fit(s["x"], s["t_x"], s["T"]), GammaGamma().fit(r["x"], r["zbar"])


def test_gammagamma_params_match_fader_hardie_2013(cdnow_calibration):
    """Fitted on the 946 repeat customers' mean spend computed from the raw CDNOW sample."""
    s = cdnow_calibration
    repeat = s.frequency > 0
    assert repeat.sum() == 946
    fitted = GammaGamma().fit(s.frequency[repeat], s.monetary_value[repeat]).params.as_dict()
    assert {name: round(fitted[name], 2) for name in PUBLISHED} == PUBLISHED


def test_gammagamma_on_the_summary_file_rounded_to_cents_is_within_its_rounding(cdnow_models):
    """The shipped file's zbar is rounded to cents, which moves gamma by 0.004 (15.4477)."""
    _, spend = cdnow_models
    fitted = spend.params.as_dict()
    for name, published in PUBLISHED.items():
        assert abs(fitted[name] - published) <= 0.01, (name, fitted[name])


def test_expected_spend_is_eq_5_of_fader_hardie_2013():
    p, q, g = 6.25, 3.74, 15.44
    model = GammaGamma(GammaGammaParams(p, q, g))
    x, zbar = 2, 22.35
    population = p * g / (q - 1)
    by_hand = (q - 1) / (p * x + q - 1) * population + p * x / (p * x + q - 1) * zbar
    assert model.conditional_expected_spend(x, zbar) == pytest.approx(by_hand, rel=1e-12)
    # No repeat purchase yet: the population mean (35.22 USD for CDNOW).
    assert model.conditional_expected_spend(0, 0.0) == pytest.approx(population)
    assert round(model.population_mean_spend(), 2) == 35.22
    # Many purchases: the customer's own mean dominates.
    assert model.conditional_expected_spend(500, 80.0) == pytest.approx(80.0, rel=0.01)


def test_clv_matches_lifetimes_0_11_3_on_cdnow(cdnow_models, cdnow_monetary):
    """lifetimes' GammaGammaFitter.customer_lifetime_value(bgf, ..., time=12,
    discount_rate=0.01, freq="W") gave 36.2785, 4.6375 and 283.5236 for CDNOW IDs 1, 2 and 6."""
    bgnbd, spend = cdnow_models
    s = cdnow_monetary[[0, 1, 5]]
    clv = spend.customer_lifetime_value(
        bgnbd,
        s["x"],
        s["t_x"],
        s["T"],
        s["zbar"],
        months=12,
        discount_rate=0.01,
        periods_per_month=PERIODS_PER_MONTH["weeks"],
    )
    np.testing.assert_allclose(clv, [36.2785, 4.6375, 283.5236], rtol=1e-5)


def test_undiscounted_clv_is_expected_spend_times_expected_purchases(cdnow_models):
    bgnbd, spend = cdnow_models
    x, tx, T, zbar = (
        np.array([0, 2, 7]),
        np.array([0, 30.43, 29.43]),
        38.86,
        np.array([0, 22.35, 73.74]),
    )
    clv = spend.customer_lifetime_value(
        bgnbd, x, tx, np.full(3, T), zbar, months=6, discount_rate=0.0, periods_per_month=4.345
    )
    purchases = bgnbd.conditional_expected_purchases(6 * 4.345, x, tx, T)
    np.testing.assert_allclose(clv, spend.conditional_expected_spend(x, zbar) * purchases)
    discounted = spend.customer_lifetime_value(
        bgnbd, x, tx, np.full(3, T), zbar, months=6, discount_rate=0.02, periods_per_month=4.345
    )
    assert np.all(discounted < clv)


TRUE = {"p": 4.0, "q": 3.0, "gamma": 20.0}


def test_gammagamma_recovers_the_parameters_of_a_seeded_simulation():
    rng = np.random.default_rng(2013)
    x = rng.integers(1, 15, size=3000)
    amounts = simulate_spend(x, rng=rng, **TRUE)
    owner = np.repeat(np.arange(len(x)), x)
    mean_spend = np.bincount(owner, weights=amounts) / x
    model = GammaGamma().fit(x, mean_spend)
    fitted, se = model.params.as_dict(), model.standard_errors
    for name, true in TRUE.items():
        assert abs(fitted[name] - true) < 3 * se[name], (name, fitted[name], se[name])
        assert se[name] < 0.5 * true


def test_the_fitted_log_likelihood_is_a_maximum(repeat_customers, cdnow_models):
    _, spend = cdnow_models
    r = repeat_customers
    at_published = GammaGamma(GammaGammaParams(**PUBLISHED)).total_log_likelihood(r["x"], r["zbar"])
    assert spend.log_likelihood >= at_published
    assert spend.log_likelihood - at_published < 0.01


@pytest.mark.parametrize(
    ("x", "m", "message"),
    [([0, 1], [1.0, 2.0], "repeat customers only"), ([1, 1], [0.0, 2.0], "positive mean spend")],
)
def test_fit_refuses_one_time_customers_and_zero_spend(x, m, message):
    with pytest.raises(ValueError, match=message):
        GammaGamma().fit(x, m)


def test_mean_spend_is_refused_when_q_is_at_most_one():
    with pytest.raises(ValueError, match="unbounded"):
        GammaGamma(GammaGammaParams(p=2.0, q=0.9, gamma=10.0)).conditional_expected_spend(1, 5.0)
