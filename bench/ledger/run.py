"""Purchases with loyalty accrual, through the service layer and over HTTP, on SQLite and PostgreSQL.

    .venv/bin/python bench/ledger/run.py [--quick] [--only sqlite|postgres] [--workers N]
                                         [--threads N]

For each database (SQLite in a temporary folder; PostgreSQL in a throwaway database created with
`createdb -h 127.0.0.1 -U postgres regulars_bench_ledger` and dropped at the end) a child
process:

1. migrates, creates a business with a points program (1 per €1, expiry), a coffee stamp card,
   Silver/Gold tiers and a rewards catalogue, and bulk-inserts 100,000 customers;
2. records purchases (two lines: 2 cappuccinos and a croissant, for a random customer of a pool
   of 5,000) with `loyalty.sale.record_sale`, 1 client then 8 concurrent clients (threads, one
   database connection each);
3. starts granian on 127.0.0.1 (a free port; workers and threads as `regulars serve`, rate
   limit lifted) and POSTs /api/v1/purchases with an Idempotency-Key from 1 client (a
   thread with one http.client keep-alive connection, bounded by a count and a time limit),
   then from 8 clients for 30 s: wrk's 8 keep-alive connections (Debian's `wrk`, installed
   here when missing and apt-get can; its C event loop leaves the two cores to the server
   being measured), or 8 Python threads without it; then re-sends some keys, which must
   record nothing new; stops it;
4. times the counter lookup server-side: card code → customer → `card.balances` (balances,
   stamps, tier, rewards, vouchers, promo cards), for customers with some history and for 10
   regulars given 300 purchases each before the server started (service layer, 8 clients),
   whose hundreds of ledger entries the lookup reads for the next expiry; and, while the server
   runs, the whole scan as a cashier sees it, over HTTP: the counter's page for a regular's card
   code (session cookie, as htmx asks for it);
5. verifies the ledger: `verify_ledger` clean, purchases = the successes, earn entries = two a
   purchase (points and stamps). wrk stops at its deadline with up to one request a
   connection unanswered, which the server may still record: every 201 must be recorded, and
   at most 8 more.

It prints purchases/second and p50/p99 latency per configuration, then one JSON line with
`http_pg_purchases_per_s`, `http_pg_p50_ms`, `http_pg_p99_ms` (8 clients), `lookup_ms` (p50 on
PostgreSQL), `lookup_regular_ms` (p50 for the regulars), `scan_page_pg_ms` (p50 of the scan
page over HTTP), `ledger_ok` and the rest. Targets on a
2-core machine: ≥ 500 purchases/s over HTTP on PostgreSQL with p99 < 50 ms; lookup < 20 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PG_DATABASE = "regulars_bench_ledger"


def _find_wrk() -> str | None:
    """wrk, Debian's HTTP load generator; installed here if missing and apt-get can."""
    if shutil.which("wrk") is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(
            "apt-get install -y -qq wrk || (apt-get update -qq && apt-get install -y -qq wrk)",
            shell=True, capture_output=True, check=False,
        )  # fmt: skip
    return shutil.which("wrk")


WRK = _find_wrk() if __name__ == "__main__" and "--child" not in sys.argv else shutil.which("wrk")
PG_URL = f"postgres://postgres@127.0.0.1:5432/{PG_DATABASE}"
SLUG = "bench-ledger"
CUSTOMERS = 100_000
POOL = 5_000
CLIENTS = 8
TARGET_HTTP_PER_S = 500
TARGET_P99_MS = 50
TARGET_LOOKUP_MS = 20
REGULARS = 10
REGULAR_VISITS = 300


# --- the child: one database ---------------------------------------------------------------


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "regulars.settings")
    import django

    django.setup()


def _build() -> dict:
    """The business, its programs, 100,000 customers and an API key."""
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from regulars.accounts.apikeys import create_key
    from regulars.accounts.models import Business, Location
    from regulars.customers.models import Customer
    from regulars.lib.bulk import BulkWriter, random_codes
    from regulars.loyalty.models import Program, Reward
    from regulars.sales.models import Product

    call_command("migrate", interactive=False, verbosity=0)
    business = Business.objects.create(slug=SLUG, name="Bench Café", currency="EUR")
    location = Location.objects.create(business=business, name="Counter")
    Product.objects.bulk_create(
        [
            Product(business=business, sku="CAP", name="Cappuccino", category="coffee",
                    price=Decimal("3.40")),
            Product(business=business, sku="CRO", name="Croissant", category="bakery",
                    price=Decimal("2.40")),
        ]
    )  # fmt: skip
    points = Program.objects.create(
        business=business, kind="points", name="Points", expiry_days=365,
        config={"points_per_unit": "1"},
    )  # fmt: skip
    card = Program.objects.create(
        business=business, kind="stamps", name="Coffee card",
        config={"stamps_needed": 9, "per": "item", "qualifying_categories": ["coffee"]},
    )  # fmt: skip
    Program.objects.create(
        business=business, kind="tiers", name="Levels",
        config={"tiers": [{"key": "silver", "name": "Silver", "threshold": 100, "multiplier": "1.25"},
                          {"key": "gold", "name": "Gold", "threshold": 300, "multiplier": "1.5"}]},
    )  # fmt: skip
    Reward.objects.create(business=business, program=card, name="Free coffee", kind="free_product",
                          cost=9)  # fmt: skip
    for name, cost in (("Croissant", 50), ("Cappuccino", 80), ("Barista class", 600)):
        Reward.objects.create(business=business, program=points, name=name, kind="free_product",
                              cost=cost)  # fmt: skip

    started = time.perf_counter()
    writer = BulkWriter()
    now = writer.when(timezone.now())
    codes, cards, tokens = (random_codes(CUSTOMERS, n) for n in (10, 12, 20))
    with transaction.atomic():
        writer.insert(
            Customer,
            "business code card_code card_token name email phone language marketing_consent "
            "preferences notes external_id home_location joined_at created_at".split(),
            [
                (business.pk, codes[i], cards[i], tokens[i], f"Customer {i:06d}", "", "", "en",
                 False, "{}", "", "", location.pk, now, now)
                for i in range(CUSTOMERS)
            ],
        )  # fmt: skip
    customers_s = time.perf_counter() - started
    _key, token = create_key(business=business, name="bench", scope="write")
    pool = list(
        Customer.objects.filter(business=business).order_by("?").values_list("code", flat=True)[
            :POOL
        ]
    )
    return {"token": token, "pool": pool, "customers_s": customers_s}


def _latency(times: list[float], seconds: float, ok: int, failed: int) -> dict:
    ordered = sorted(times)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    return {
        "ok": ok,
        "failed": failed,
        "seconds": round(seconds, 3),
        "per_s": round(ok / seconds, 1) if seconds else 0.0,
        "p50_ms": round(pct(0.50), 2),
        "p99_ms": round(pct(0.99), 2),
    }


def _in_threads(clients: int, count: int, limit_s: float, one) -> dict:
    """Run `one(client, n)` `count` times over `clients` threads, stopping at `limit_s`."""
    from django.db import connections

    lock = threading.Lock()
    taken = iter(range(count))
    times: list[float] = []
    ok = failed = 0
    deadline = time.perf_counter() + limit_s
    errors: list[str] = []

    def work(client: int) -> None:
        nonlocal ok, failed
        state: dict = {}
        try:
            while time.perf_counter() < deadline:
                with lock:
                    n = next(taken, None)
                if n is None:
                    break
                started = time.perf_counter()
                try:
                    good = one(client, n, state)
                except Exception as exc:  # counted, and the first few shown
                    good = False
                    if len(errors) < 3:
                        errors.append(repr(exc))
                took = time.perf_counter() - started
                with lock:
                    times.append(took)
                    if good:
                        ok += 1
                    else:
                        failed += 1
        finally:
            if state.get("connection"):
                state["connection"].close()
            connections.close_all()

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = _latency(times, time.perf_counter() - started, ok, failed)
    if errors:
        result["errors"] = errors
    return result


def _service(business, pool: list, clients: int, count: int, limit_s: float) -> dict:
    from decimal import Decimal

    from regulars.loyalty.sale import record_sale
    from regulars.sales.models import Product
    from regulars.sales.purchases import Line

    products = {p.sku: p for p in Product.objects.filter(business=business)}
    lines = [
        Line(name="", unit_price=Decimal("3.40"), quantity=2, product=products["CAP"]),
        Line(name="", unit_price=Decimal("2.40"), quantity=1, product=products["CRO"]),
    ]
    run = uuid.uuid4().hex[:8]

    def one(client: int, n: int, state: dict) -> bool:
        rng = state.setdefault("rng", random.Random(f"{run}:{client}"))
        sale = record_sale(
            business=business,
            customer=rng.choice(pool),
            lines=lines,
            idempotency_key=f"svc:{run}:{n}",
        )
        return sale.created and len(sale.accrual.entries) == 2

    return _in_threads(clients, count, limit_s, one)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(workers: int, threads: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = dict(os.environ, API_RATE_LIMIT="100000000/m", LOG_LEVEL="WARNING")
    from regulars.accounts.management.commands.serve import web_server

    process = subprocess.Popen(
        web_server(str(VENV_BIN / "granian"), "127.0.0.1", port, workers, threads),
        env=env,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return process, port
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("granian did not answer on /healthz within 60 s")


def _stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _http(port: int, token: str, pool: list[str], clients: int, count: int, limit_s: float,
          sent: list) -> dict:  # fmt: skip
    run = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def one(client: int, n: int, state: dict) -> bool:
        connection = state.get("connection")
        if connection is None:
            connection = state["connection"] = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=30
            )
        rng = state.setdefault("rng", random.Random(f"{run}:{client}"))
        body = json.dumps(
            {
                "customer": rng.choice(pool),
                "lines": [
                    {"sku": "CAP", "unit_price": "3.40", "quantity": 2},
                    {"sku": "CRO", "unit_price": "2.40"},
                ],
            }
        )
        key = f"http:{run}:{n}"
        try:
            connection.request(
                "POST", "/api/v1/purchases", body, {**headers, "Idempotency-Key": key}
            )
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            state["connection"] = None
            connection.close()
            raise
        if response.status == 201:
            sent.append((key, body, json.loads(data)["code"]))
            return True
        return False

    return _in_threads(clients, count, limit_s, one)


def _wrk(port: int, token: str, pool: list[str], clients: int, seconds: float) -> dict:
    """8 clients from wrk (C, event loop): the load generator costs the server's cores far less
    than Python threads would. Returns the figures and the run id its keys carry."""
    run = uuid.uuid4().hex[:8]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as codes:
        codes.write("\n".join(pool))
    try:
        done = subprocess.run(
            [
                WRK, "-t", "2", "-c", str(clients), "-d", f"{int(seconds)}s", "--timeout", "10s",
                "-s", str(Path(__file__).with_name("purchases.lua")),
                f"http://127.0.0.1:{port}", "--", token, run, codes.name,
            ],  # fmt: skip
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(codes.name)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    seconds = figures["duration_us"] / 1e6
    return {
        "ok": figures["ok"],
        "failed": figures["failed"] + figures["socket_errors"],
        "seconds": round(seconds, 3),
        "per_s": round(figures["ok"] / seconds, 1),
        "p50_ms": round(figures["p50_us"] / 1000, 2),
        "p99_ms": round(figures["p99_us"] / 1000, 2),
        "generator": "wrk",
        "run": run,
    }


def _resend(port: int, token: str, sent: list, how_many: int) -> int:
    """Send some keys again: each must answer the first purchase. Returns the mismatches."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    wrong = 0
    for key, body, code in random.sample(sent, min(how_many, len(sent))):
        connection.request("POST", "/api/v1/purchases", body, {**headers, "Idempotency-Key": key})
        response = connection.getresponse()
        data = json.loads(response.read())
        wrong += response.status != 201 or data["code"] != code
    connection.close()
    return wrong


def _cashier_session(business) -> str:
    """A logged-in cashier's session key (database sessions, which the server reads too)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from regulars.accounts.models import Membership, User

    user = User.objects.create_user(username="bench-cashier", password=uuid.uuid4().hex)
    Membership.objects.create(user=user, business=business, role="cashier")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "regulars.accounts.sessions.Backend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def _scan_pages(port: int, session_key: str, regulars: list, samples: int) -> dict:
    """The counter's scan as the cashier sees it: the card code typed into the counter's field
    (GET …/loyalty/counter/?q=<code>, as htmx sends it) → the customer's panel, over HTTP."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": f"sessionid={session_key}", "HX-Request": "true"}
    scans = (regulars * (samples // len(regulars) + 1))[:samples]
    times = []
    for customer in regulars[:3] + scans:  # the first three warm the connection and the worker
        started = time.perf_counter()
        connection.request("GET", f"/b/{SLUG}/loyalty/counter/?q={customer.card_code}",
                           headers=headers)  # fmt: skip
        response = connection.getresponse()
        body = response.read()
        times.append(time.perf_counter() - started)
        if response.status != 200 or customer.name.encode() not in body:
            raise RuntimeError(f"the counter did not show {customer.name}: {response.status}")
    times = times[3:]
    return _latency(times, sum(times), len(times), 0)


def _lookup(business, samples: int, customers=None) -> dict:
    """Server time of the counter's scan: card code → customer with everything on the card.

    For `customers` (each scanned `samples` times over), or for `samples` customers with some
    history."""
    from regulars.customers.models import Customer
    from regulars.lib.codes import normalise_code
    from regulars.loyalty.card import balances
    from regulars.loyalty.models import Account

    if customers is not None:
        scans = [c.card_code for c in customers] * max(1, samples // len(customers))
    else:
        scans = list(
            Customer.objects.filter(
                business=business,
                pk__in=Account.objects.filter(business=business).values("customer"),
            ).values_list("card_code", flat=True)[:samples]
        )
    times = []
    for scanned in scans:
        started = time.perf_counter()
        customer = Customer.objects.for_business(business).get(card_code=normalise_code(scanned))
        summary = balances(customer)
        assert summary.points and summary.stamps
        times.append(time.perf_counter() - started)
    return _latency(times, sum(times), len(times), 0)


def child(args) -> dict:
    _setup_django()
    from django.db import connection

    from regulars.accounts.models import Business
    from regulars.customers.models import Customer
    from regulars.loyalty.models import LedgerEntry
    from regulars.loyalty.verify import verify_ledger
    from regulars.sales.models import Purchase

    quick = args.quick
    limit = 20.0 if quick else 60.0
    built = _build()
    business = Business.objects.get(slug=SLUG)
    customers = list(Customer.objects.filter(code__in=built["pool"]))
    out: dict = {"vendor": connection.vendor, "customers_s": round(built["customers_s"], 2)}
    out["service_1"] = _service(business, customers, 1, 200 if quick else 1000, limit)
    out["service_8"] = _service(business, customers, CLIENTS, 400 if quick else 3000, limit)
    # Regulars of years: REGULARS customers with REGULAR_VISITS purchases each (a ledger entry
    # a purchase in each of points and stamps). The counter scans them most.
    regulars = customers[:REGULARS]
    visits = REGULAR_VISITS // (4 if quick else 1)
    out["regulars"] = _service(business, regulars, CLIENTS, REGULARS * visits, 300.0)
    session_key = _cashier_session(business)
    connection.close()

    process, port = _start_server(args.workers, args.threads)
    sent: list = []
    try:
        token, pool = built["token"], built["pool"]
        _http(port, token, pool, 2, 100, limit, sent)  # warm up every worker and thread
        out["http_1"] = _http(port, token, pool, 1, 300 if quick else 1000, limit, sent)
        if WRK:
            out["http_8"] = _wrk(port, token, pool, CLIENTS, 15 if quick else 30)
        else:
            out["http_8"] = _http(port, token, pool, CLIENTS, 800 if quick else 5000, limit, sent)
            out["http_8"]["generator"] = "python threads"
        out["resent_wrong"] = _resend(port, token, sent, 50)
        out["scan_page"] = _scan_pages(port, session_key, regulars, 100 if quick else 300)
        out["scan_page"]["visits"] = visits
    finally:
        _stop_server(process)

    out["lookup"] = _lookup(business, 100 if quick else 300)
    out["lookup_regulars"] = _lookup(business, 100 if quick else 300, regulars)
    out["lookup_regulars"]["visits"] = visits
    succeeded = sum(out[k]["ok"] for k in ("service_1", "service_8", "regulars")) + len(sent)
    purchases = Purchase.objects.filter(business=business).count()
    if out["http_8"].get("generator") == "wrk":
        # wrk stops at its deadline with up to one request per connection still on its way:
        # the server may record those after wrk stopped counting. Every 201 must be there.
        by_wrk = Purchase.objects.filter(
            business=business, idempotency_key__startswith=f"api:wrk:{out['http_8']['run']}:"
        ).count()
        out["http_8"]["recorded"] = by_wrk
        out["http_8"]["in_flight_ok"] = out["http_8"]["ok"] <= by_wrk <= out["http_8"]["ok"] + CLIENTS
        succeeded += by_wrk
    earns = LedgerEntry.objects.filter(business=business, kind="earn").count()
    problems = verify_ledger(business)
    out["purchases"] = purchases
    out["succeeded"] = succeeded
    out["earn_entries"] = earns
    out["ledger_problems"] = problems[:5]
    out["ledger_ok"] = (
        not problems and purchases == succeeded and earns == 2 * purchases
        and out["resent_wrong"] == 0 and out["http_8"].get("in_flight_ok", True)
    )  # fmt: skip
    return out


# --- the parent ---------------------------------------------------------------------------


def _run_child(label: str, env: dict[str, str], args) -> dict | None:
    command = [sys.executable, __file__, "--child", "--workers", str(args.workers),
               "--threads", str(args.threads)] + (["--quick"] if args.quick else [])  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{label}: the run failed\n{done.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _postgres_up() -> bool:
    return shutil.which("createdb") is not None and subprocess.run(
        ["pg_isready", "-h", "127.0.0.1", "-q"], check=False
    ).returncode == 0


def _report(label: str, result: dict) -> None:
    for key, name in (
        ("service_1", "service layer, 1 client  "),
        ("service_8", "service layer, 8 clients "),
        ("http_1", "HTTP (granian), 1 client  "),
        ("http_8", "HTTP (granian), 8 clients "),
    ):
        r = result[key]
        print(
            f"{label:10} {name}: {r['per_s']:7.1f} purchases/s  p50 {r['p50_ms']:6.2f} ms  "
            f"p99 {r['p99_ms']:6.2f} ms  ({r['ok']} ok, {r['failed']} failed)"
            + (f"  errors: {r['errors']}" if r.get("errors") else "")
        )
    lookup, regular = result["lookup"], result["lookup_regulars"]
    print(
        f"{label:10} counter lookup (card code → customer + balances, 100,000 customers): "
        f"p50 {lookup['p50_ms']:.2f} ms  p99 {lookup['p99_ms']:.2f} ms"
    )
    print(
        f"{label:10} counter lookup of a regular ({regular['visits']} purchases each, "
        f"{result['regulars']['per_s']:.0f}/s to record): "
        f"p50 {regular['p50_ms']:.2f} ms  p99 {regular['p99_ms']:.2f} ms"
    )
    page = result["scan_page"]
    print(
        f"{label:10} counter scan of a regular over HTTP (card code → the customer's panel): "
        f"p50 {page['p50_ms']:.2f} ms  p99 {page['p99_ms']:.2f} ms"
    )
    print(
        f"{label:10} ledger: {'OK' if result['ledger_ok'] else 'PROBLEMS'} — "
        f"{result['purchases']} purchases for {result['succeeded']} successes, "
        f"{result['earn_entries']} earn entries, {result['resent_wrong']} wrong replays"
        + (f"; {result['ledger_problems']}" if result["ledger_problems"] else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer purchases, shorter limits")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", 2)))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", 2)))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args), default=str))
        return

    results: dict[str, dict | None] = {"sqlite": None, "postgres": None}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory(prefix="regulars-bench-ledger-") as var:
            env = dict(os.environ, REGULARS_VAR=var, DATABASE_URL=f"sqlite:///{var}/bench.sqlite3")
            results["sqlite"] = _run_child("sqlite", env, args)
    if args.only in (None, "postgres"):
        if _postgres_up():
            pg = ["-h", "127.0.0.1", "-U", "postgres"]
            subprocess.run(["dropdb", *pg, "--if-exists", PG_DATABASE], check=True)
            subprocess.run(["createdb", *pg, PG_DATABASE], check=True)
            try:
                with tempfile.TemporaryDirectory(prefix="regulars-bench-ledger-") as var:
                    env = dict(os.environ, REGULARS_VAR=var, DATABASE_URL=PG_URL)
                    results["postgres"] = _run_child("postgres", env, args)
            finally:
                subprocess.run(["dropdb", *pg, "--if-exists", PG_DATABASE], check=False)
        else:
            print("postgres: SKIPPED (no server answers on 127.0.0.1)", file=sys.stderr)

    print(f"granian: {args.workers} workers × {args.threads} threads, keep-alive; "
          f"8 clients from {'wrk' if WRK else 'Python threads'}")  # fmt: skip
    for label, result in results.items():
        if result:
            _report(label, result)
    pg, lite = results["postgres"], results["sqlite"]
    summary = {
        "http_pg_purchases_per_s": pg["http_8"]["per_s"] if pg else None,
        "http_pg_p50_ms": pg["http_8"]["p50_ms"] if pg else None,
        "http_pg_p99_ms": pg["http_8"]["p99_ms"] if pg else None,
        "lookup_ms": pg["lookup"]["p50_ms"] if pg else (lite["lookup"]["p50_ms"] if lite else None),
        "ledger_ok": all(r["ledger_ok"] for r in results.values() if r) and any(results.values()),
        "http_pg_1_client_per_s": pg["http_1"]["per_s"] if pg else None,
        "http_pg_1_client_p50_ms": pg["http_1"]["p50_ms"] if pg else None,
        "service_pg_per_s": pg["service_8"]["per_s"] if pg else None,
        "service_pg_1_client_per_s": pg["service_1"]["per_s"] if pg else None,
        "http_sqlite_purchases_per_s": lite["http_8"]["per_s"] if lite else None,
        "http_sqlite_p99_ms": lite["http_8"]["p99_ms"] if lite else None,
        "service_sqlite_per_s": lite["service_8"]["per_s"] if lite else None,
        "lookup_p99_ms": pg["lookup"]["p99_ms"] if pg else None,
        "lookup_sqlite_ms": lite["lookup"]["p50_ms"] if lite else None,
        "lookup_regular_ms": pg["lookup_regulars"]["p50_ms"] if pg else None,
        "lookup_regular_sqlite_ms": lite["lookup_regulars"]["p50_ms"] if lite else None,
        "scan_page_pg_ms": pg["scan_page"]["p50_ms"] if pg else None,
        "scan_page_pg_p99_ms": pg["scan_page"]["p99_ms"] if pg else None,
        "scan_page_sqlite_ms": lite["scan_page"]["p50_ms"] if lite else None,
        "http_pg_generator": pg["http_8"].get("generator") if pg else None,
        "workers": args.workers,
        "threads": args.threads,
        "quick": args.quick,
    }
    if pg:
        print(
            f"targets: HTTP on PostgreSQL {summary['http_pg_purchases_per_s']} purchases/s "
            f"(≥ {TARGET_HTTP_PER_S}), p99 {summary['http_pg_p99_ms']} ms (< {TARGET_P99_MS}); "
            f"lookup {summary['lookup_ms']} ms, of a regular {summary['lookup_regular_ms']} ms, "
            f"the scan page over HTTP {summary['scan_page_pg_ms']} ms (< {TARGET_LOOKUP_MS})"
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
