"""Our BG/NBD fit against lifetimes' BetaGeoFitter on 100,000 simulated customers.

    .venv/bin/python bench/analytics/bgnbd_vs_lifetimes.py [--customers N] [--repeats K]

1. Simulates a seeded shop: 100,000 customers who joined over two years, buying by the BG/NBD
   process (r=0.6, alpha=40 days, a=0.7, b=3) and spending by Gamma-Gamma (p=5, q=4, gamma=60),
   recorded as dated transactions and summarised per customer in days.
2. Times our BGNBD.fit (best of K runs; it deduplicates the (x, t_x, T) triples and uses the
   analytic gradient) and our GammaGamma.fit.
3. Creates a throwaway venv under bench/.work/ (gitignored) with lifetimes 0.11.3 and the
   versions it was last seen working with, and times BetaGeoFitter / GammaGammaFitter there in
   a subprocess on the same arrays. Without a usable Python or registry it says so and goes on.
4. Compares the parameters to 4 significant digits and prints the speedup; the last line is
   one JSON object (bgnbd_fit_s, lifetimes_fit_s or null, bgnbd_speedup or null, ...).

Target: our fit at least 10x faster than lifetimes'.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from regulars.analytics.clv import BGNBD, GammaGamma, summary_from_transactions  # noqa: E402
from regulars.analytics.clv.simulate import (  # noqa: E402
    simulate_bgnbd,
    simulate_purchase_times,
    simulate_spend,
)

WORK = ROOT / "bench" / ".work"
VENV = WORK / "lifetimes-venv"
# lifetimes 0.11.3 (2020) still installs and fits with these on Python 3.11 (checked 2026-11).
LIFETIMES_REQUIREMENTS = [
    "lifetimes==0.11.3",
    "numpy==2.4.6",
    "scipy==1.17.1",
    "pandas==3.1.1",
    "autograd==1.9.1",
    "dill==0.4.1",
]
TRUE_BGNBD = {"r": 0.6, "alpha": 40.0, "a": 0.7, "b": 3.0}
TRUE_SPEND = {"p": 5.0, "q": 4.0, "gamma": 60.0}

LIFETIMES_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    data = np.load(sys.argv[1])
    repeats = int(sys.argv[2])
    x, tx, T, m = data["frequency"], data["recency"], data["T"], data["monetary_value"]
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        bgf = BetaGeoFitter().fit(x, tx, T)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    rows = np.stack([x, tx, T], axis=1)
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    start = time.perf_counter()
    BetaGeoFitter().fit(unique[:, 0], unique[:, 1], unique[:, 2], weights=counts)
    weighted = time.perf_counter() - start
    repeat = x > 0
    start = time.perf_counter()
    ggf = GammaGammaFitter().fit(x[repeat], m[repeat])
    gg = time.perf_counter() - start
    print(json.dumps({
        "bgnbd_fit_s": best,
        "bgnbd_weighted_fit_s": weighted,
        "bgnbd_params": {k: float(v) for k, v in bgf.params_.items()},
        "gammagamma_fit_s": gg,
        "gammagamma_params": {"p": float(ggf.params_["p"]), "q": float(ggf.params_["q"]),
                              "gamma": float(ggf.params_["v"])},
    }))
    """
)


def simulate(n: int, seed: int) -> tuple[dict[str, np.ndarray], int, float]:
    """A summary (in days) of n simulated customers, the transaction count and build time."""
    rng = np.random.default_rng(seed)
    end = np.datetime64("2025-12-31")
    age_days = rng.integers(1, 731, size=n)
    customers = simulate_bgnbd(age_days.astype(float), rng=rng, **TRUE_BGNBD)
    owner, since_first = simulate_purchase_times(customers.frequency, customers.recency, rng=rng)
    amounts = simulate_spend(np.bincount(owner, minlength=n), rng=rng, **TRUE_SPEND)
    dates = end - age_days[owner] + np.floor(since_first).astype(np.int64)
    start = time.perf_counter()
    summary = summary_from_transactions(owner, dates, amounts, end=end, unit="days")
    built = time.perf_counter() - start
    columns = {
        "frequency": summary.frequency.astype(float),
        "recency": summary.recency,
        "T": summary.T,
        "monetary_value": summary.monetary_value,
    }
    return columns, len(owner), built


def best_time(fn, repeats: int):
    best, result = None, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def lifetimes_python() -> Path | None:
    """The venv's Python with lifetimes importable, creating the venv if need be."""
    python = VENV / "bin" / "python"
    if python.exists() and _imports_lifetimes(python):
        return python
    candidates = [shutil.which(name) for name in ("python3.11", "python3", "python3.12")]
    for base in dict.fromkeys(c for c in candidates if c):
        shutil.rmtree(VENV, ignore_errors=True)
        WORK.mkdir(parents=True, exist_ok=True)
        print(f"creating {VENV.relative_to(ROOT)} with {base} and lifetimes 0.11.3 ...")
        try:
            subprocess.run([base, "-m", "venv", str(VENV)], check=True, capture_output=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", *LIFETIMES_REQUIREMENTS],
                check=True,
                capture_output=True,
                text=True,
                timeout=900,
                env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            last = detail.strip().splitlines()[-1] if detail.strip() else type(exc).__name__
            print(f"  could not install lifetimes with {base}: {last}")
            continue
        if _imports_lifetimes(python):
            return python
    return None


def _imports_lifetimes(python: Path) -> bool:
    check = subprocess.run(
        [str(python), "-c", "import lifetimes"], capture_output=True, text=True, timeout=120
    )
    return check.returncode == 0


def significant(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="timing runs, best is kept")
    parser.add_argument("--seed", type=int, default=20050425)
    args = parser.parse_args()

    data, n_transactions, summary_s = simulate(args.customers, args.seed)
    x, tx, T, m = data["frequency"], data["recency"], data["T"], data["monetary_value"]
    distinct = len(np.unique(np.stack([x, tx, T], axis=1), axis=0))
    print(
        f"data: {args.customers:,} customers, {n_transactions:,} transactions "
        f"(summary built in {summary_s:.3f} s), {int((x > 0).sum()):,} repeat customers, "
        f"{distinct:,} distinct (x, t_x, T) triples"
    )

    ours_s, ours = best_time(lambda: BGNBD().fit(x, tx, T), args.repeats)
    repeat = (x > 0) & (m > 0)
    ours_gg_s, ours_gg = best_time(lambda: GammaGamma().fit(x[repeat], m[repeat]), args.repeats)
    print(f"ours      BG/NBD fit      {ours_s:8.3f} s  {_params(ours.params.as_dict())}")
    print(f"ours      Gamma-Gamma fit {ours_gg_s:8.3f} s  {_params(ours_gg.params.as_dict())}")
    print(f"(simulated with {_params(TRUE_BGNBD)}; {_params(TRUE_SPEND)})")

    result: dict[str, object] = {
        "customers": args.customers,
        "transactions": n_transactions,
        "distinct_triples": distinct,
        "summary_s": round(summary_s, 4),
        "bgnbd_fit_s": round(ours_s, 4),
        "gammagamma_fit_s": round(ours_gg_s, 4),
        "bgnbd_params": ours.params.as_dict(),
        "lifetimes_fit_s": None,
        "lifetimes_weighted_fit_s": None,
        "lifetimes_gammagamma_fit_s": None,
        "bgnbd_speedup": None,
        "gammagamma_speedup": None,
        "params_match_4_significant_digits": None,
    }

    python = lifetimes_python()
    if python is None:
        print("lifetimes: unavailable (no venv could be made with it); comparison skipped")
    else:
        WORK.mkdir(parents=True, exist_ok=True)
        arrays = WORK / "bgnbd_bench.npz"
        script = WORK / "lifetimes_fit.py"
        np.savez(arrays, **data)
        script.write_text(LIFETIMES_SCRIPT)
        run = subprocess.run(
            [str(python), str(script), str(arrays), str(args.repeats)],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            last = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "no output"
            print(f"lifetimes: the fit failed ({last}); comparison skipped")
        else:
            theirs = json.loads(run.stdout.strip().splitlines()[-1])
            lt_s, lt_gg_s = theirs["bgnbd_fit_s"], theirs["gammagamma_fit_s"]
            print(f"lifetimes BG/NBD fit      {lt_s:8.3f} s  {_params(theirs['bgnbd_params'])}")
            print(
                f"lifetimes BG/NBD fit on distinct triples with weights "
                f"{theirs['bgnbd_weighted_fit_s']:.3f} s"
            )
            print(
                f"lifetimes Gamma-Gamma fit {lt_gg_s:6.3f} s  "
                f"{_params(theirs['gammagamma_params'])}"
            )
            ours_params = ours.params.as_dict()
            match = all(
                significant(ours_params[k]) == significant(v)
                for k, v in theirs["bgnbd_params"].items()
            )
            gg_match = all(
                significant(ours_gg.params.as_dict()[k]) == significant(v)
                for k, v in theirs["gammagamma_params"].items()
            )
            print(
                f"parameters equal to 4 significant digits: BG/NBD {match}, Gamma-Gamma {gg_match}"
            )
            print(f"speedup: BG/NBD {lt_s / ours_s:.1f}x, Gamma-Gamma {lt_gg_s / ours_gg_s:.1f}x")
            result.update(
                lifetimes_fit_s=round(lt_s, 4),
                lifetimes_weighted_fit_s=round(theirs["bgnbd_weighted_fit_s"], 4),
                lifetimes_gammagamma_fit_s=round(lt_gg_s, 4),
                lifetimes_bgnbd_params=theirs["bgnbd_params"],
                bgnbd_speedup=round(lt_s / ours_s, 1),
                gammagamma_speedup=round(lt_gg_s / ours_gg_s, 1),
                params_match_4_significant_digits=match and gg_match,
            )
    print(json.dumps(result))


def _params(params: dict[str, float]) -> str:
    return " ".join(f"{k}={significant(v)}" for k, v in params.items())


if __name__ == "__main__":
    main()
