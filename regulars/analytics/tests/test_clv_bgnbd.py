"""BG/NBD: published CDNOW estimates, closed-form checks, parameter recovery, large customers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import hyp2f1

from regulars.analytics.clv import BGNBD, BGNBDParams
from regulars.analytics.clv.simulate import simulate_bgnbd

# Fader, Hardie & Lee (2005), "Counting Your Customers" the Easy Way, section 5 (CDNOW).
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LOG_LIKELIHOOD = -9582.4


@pytest.fixture(scope="module")
def cdnow_model(cdnow_summary):
    s = cdnow_summary
    return BGNBD().fit(s["frequency"], s["recency"], s["T"])


def test_bgnbd_params_match_fader_hardie_lee_2005(cdnow_model):
    fitted = cdnow_model.params.as_dict()
    assert {name: round(fitted[name], 3) for name in PUBLISHED} == PUBLISHED


def test_bgnbd_log_likelihood_matches_fader_hardie_lee_2005(cdnow_model, cdnow_summary):
    assert round(cdnow_model.log_likelihood, 1) == PUBLISHED_LOG_LIKELIHOOD
    s = cdnow_summary
    at_published = BGNBD(BGNBDParams(**PUBLISHED)).total_log_likelihood(
        s["frequency"], s["recency"], s["T"]
    )
    assert round(at_published, 1) == PUBLISHED_LOG_LIKELIHOOD
    assert cdnow_model.log_likelihood >= at_published


def test_fitting_on_distinct_rows_with_counts_equals_fitting_on_every_customer(cdnow_summary):
    s = cdnow_summary
    rows = np.stack([s["frequency"], s["recency"], s["T"]], axis=1)
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    weighted = BGNBD().fit(unique[:, 0], unique[:, 1], unique[:, 2], weights=counts)
    full = BGNBD().fit(s["frequency"], s["recency"], s["T"])
    assert len(unique) < len(rows)
    for name, value in full.params.as_dict().items():
        assert weighted.params.as_dict()[name] == pytest.approx(value, rel=1e-6)
    assert weighted.log_likelihood == pytest.approx(full.log_likelihood, rel=1e-9)
    assert weighted.n_customers == len(rows)


def test_conditional_expectation_matches_hardie_bgnbd_excel_sheet():
    """Customer 1 of CDNOW (x=2, t_x=30.43, T=38.86) expects 1.226 purchases in 39 weeks."""
    model = BGNBD(BGNBDParams(**PUBLISHED))
    assert round(float(model.conditional_expected_purchases(39, 2, 30.43, 38.86)), 3) == 1.226


def test_conditional_expectation_equals_fader_hardie_lee_eq_10_in_its_direct_form():
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    model = BGNBD(BGNBDParams(r, alpha, a, b))
    x = np.array([0, 1, 2, 5, 10, 20])
    tx = np.array([0, 3.0, 30.43, 20.0, 35.0, 38.0])
    T, t = 38.86, 52.0
    direct = (
        (a + b + x - 1)
        / (a - 1)
        * (
            1
            - ((alpha + T) / (alpha + T + t)) ** (r + x)
            * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        )
        / (1 + (x > 0) * a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))
    )
    np.testing.assert_allclose(model.conditional_expected_purchases(t, x, tx, T), direct, rtol=1e-9)


def test_probability_alive_follows_fader_hardie_lee_note_021():
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    model = BGNBD(BGNBDParams(r, alpha, a, b))
    x, tx, T = 2, 30.43, 38.86
    by_hand = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))
    assert model.probability_alive(x, tx, T) == pytest.approx(by_hand, rel=1e-12)
    # No repeat purchase: dropout only follows a repeat purchase, so still alive for sure.
    assert model.probability_alive(0, 0, 38.86) == 1.0
    # Bought lately -> more likely alive than one who stopped early.
    assert model.probability_alive(5, 38, 38.86) > model.probability_alive(5, 10, 38.86)


def test_expected_purchases_of_a_new_customer_is_the_conditional_one_at_zero_history():
    model = BGNBD(BGNBDParams(**PUBLISHED))
    t = np.array([1.0, 10.0, 39.0, 78.0])
    r, alpha, a, b = PUBLISHED.values()
    eq_9 = (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )
    np.testing.assert_allclose(model.expected_purchases(t), eq_9, rtol=1e-9)
    np.testing.assert_allclose(model.conditional_expected_purchases(t, 0, 0, 0), eq_9, rtol=1e-9)


def test_customers_with_hundreds_of_purchases_give_finite_likelihood_and_predictions():
    model = BGNBD(BGNBDParams(**PUBLISHED))
    x = np.array([300, 800, 2000, 500])
    tx = np.array([38.0, 38.8, 20.0, 1.0])
    T = np.full(4, 38.86)
    ll = model.total_log_likelihood(x, tx, T)
    expected = model.conditional_expected_purchases(39, x, tx, T)
    alive = model.probability_alive(x, tx, T)
    assert np.isfinite(ll)
    assert np.all(np.isfinite(expected)) and np.all(expected >= 0)
    assert np.all((alive >= 0) & (alive <= 1))
    # Still buying ~20 a week at the end: many purchases to come, but fewer than the posterior
    # rate (r + x) / (alpha + T) alone gives over 39 weeks, as each purchase may be the last.
    r, alpha = PUBLISHED["r"], PUBLISHED["alpha"]
    assert 200 < expected[1] < (r + 800) / (alpha + 38.86) * 39
    # Stopped after week 1 despite 500 purchases: gone.
    assert alive[3] < 1e-100 and expected[3] < 1e-100


def test_fit_on_a_base_with_heavy_buyers_converges(cdnow_summary):
    s = cdnow_summary
    x = np.append(s["frequency"], [400, 900])
    tx = np.append(s["recency"], [38.0, 38.5])
    T = np.append(s["T"], [38.86, 38.86])
    model = BGNBD().fit(x, tx, T)
    assert np.isfinite(model.log_likelihood)
    assert all(np.isfinite(v) and v > 0 for v in model.params.as_dict().values())


TRUE = {"r": 0.5, "alpha": 10.0, "a": 0.6, "b": 2.0}


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(20050425)
    return simulate_bgnbd(rng.uniform(26, 52, size=5000), rng=rng, **TRUE)


def test_bgnbd_recovers_the_parameters_of_a_seeded_simulation(simulated):
    s = simulated
    model = BGNBD().fit(s.frequency, s.recency, s.T)
    fitted, se = model.params.as_dict(), model.standard_errors
    for name, true in TRUE.items():
        # Within 3 standard errors of the truth, and the standard errors themselves sensible.
        assert abs(fitted[name] - true) < 3 * se[name], (name, fitted[name], se[name])
        assert se[name] < 0.5 * true
    assert fitted["r"] == pytest.approx(TRUE["r"], rel=0.1)
    assert fitted["alpha"] == pytest.approx(TRUE["alpha"], rel=0.1)


def test_simulated_mean_frequency_matches_expected_purchases_formula():
    """The simulator and eq. 9 agree: mean repeat purchases over 39 weeks of 100k customers."""
    rng = np.random.default_rng(7)
    s = simulate_bgnbd(np.full(100_000, 39.0), rng=rng, **TRUE)
    expected = BGNBD(BGNBDParams(**TRUE)).expected_purchases(39.0)
    standard_error = s.frequency.std() / np.sqrt(len(s.frequency))
    assert abs(s.frequency.mean() - expected) < 4 * standard_error


def test_predicting_before_fitting_says_so():
    with pytest.raises(ValueError, match="not been fitted"):
        BGNBD().probability_alive(1, 1, 2)


@pytest.mark.parametrize(
    ("x", "tx", "T", "message"),
    [
        ([1, 2], [1.0, 5.0], [2.0, 4.0], "recency must be between 0 and T"),
        ([0, 1], [1.0, 1.0], [2.0, 2.0], "frequency 0 must have recency 0"),
        ([-1, 1], [0.0, 1.0], [2.0, 2.0], "whole number"),
        ([0, 0], [0.0, 0.0], [2.0, 2.0], "no customer has a repeat purchase"),
    ],
)
def test_fit_refuses_impossible_data(x, tx, T, message):
    with pytest.raises(ValueError, match=message):
        BGNBD().fit(x, tx, T)
