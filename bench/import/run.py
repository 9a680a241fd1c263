"""Import benchmark: a million purchase rows from a CSV file into PostgreSQL, timed.

Target (issue 5): 1,000,000 purchase rows in under 60 s on PostgreSQL on one machine.

    .venv/bin/python bench/import/run.py                  # 1,000,000 rows
    .venv/bin/python bench/import/run.py --rows 100000    # a quicker look

It creates a throwaway database (`createdb regulars_bench_import` on 127.0.0.1 as postgres, or
--database-url), migrates it, makes a café with two locations and its menu, and writes a seeded
CSV in the generic layout: receipts of 1–3 line items (1.5 on average), 70% of them to one of
20,000 known-by-e-mail-and-phone regulars, two years of history, sorted by time, amounts with a
decimal comma half of the time. Then it runs `regulars import` as a separate process, exactly
as an owner would on the command line (check every line, then import), and measures that
process: wall time and peak memory (its maximum resident set size). The database is dropped at
the end unless --keep.

The last line printed is one JSON object with at least `rows`, `seconds` and `peak_mib`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "regulars_bench_import"
SLUG = "bench-import"
MENU = [
    ("ESP", "Espresso", "2.10"), ("DOP", "Doppio", "2.80"), ("AME", "Americano", "2.60"),
    ("CAP", "Cappuccino", "3.20"), ("FLW", "Flat white", "3.40"), ("LAT", "Latte", "3.50"),
    ("MOC", "Mocha", "3.90"), ("TEA", "Tea", "2.40"), ("CHA", "Chai latte", "3.70"),
    ("HOT", "Hot chocolate", "3.60"), ("CRO", "Croissant", "2.50"), ("PAC", "Pain au chocolat", "2.90"),
    ("CIN", "Cinnamon roll", "3.30"), ("BAN", "Banana bread", "3.10"), ("SCO", "Scone", "2.70"),
    ("BAG", "Bagel", "4.50"), ("SAN", "Sandwich", "6.90"), ("SAL", "Salad", "7.50"),
    ("CAK", "Carrot cake", "4.20"), ("BRO", "Brownie", "3.00"),
]  # fmt: skip
FIRST = ["Anna", "Bence", "Csilla", "Dora", "Eszter", "Ferenc", "Gabor", "Hanna", "Ivan", "Jana"]
LAST = ["Kovacs", "Nagy", "Szabo", "Toth", "Horvath", "Varga", "Kiss", "Molnar", "Nemeth", "Farkas"]


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def write_csv(path: Path, rows: int, customers: int, seed: int) -> int:
    """The seeded file; returns the number of receipts in it."""
    rng = random.Random(seed)
    end = datetime(2025, 1, 1, tzinfo=UTC)
    span = int(timedelta(days=730).total_seconds())
    sizes = []
    total = 0
    while total < rows:
        size = min(rng.choices((1, 2, 3), weights=(60, 30, 10))[0], rows - total)
        sizes.append(size)
        total += size
    moments = sorted(rng.randrange(span) for _ in sizes)
    start = end - timedelta(seconds=span)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("receipt,date,customer_email,customer_phone,customer_name,item,sku,quantity,unit_price,location\n")
        for n, (size, offset) in enumerate(zip(sizes, moments, strict=True)):
            when = (start + timedelta(seconds=offset)).strftime("%Y-%m-%d %H:%M:%S")
            if rng.random() < 0.7:
                who = rng.randrange(customers)
                person = f"c{who}@example.com,+3630{who:07d},{FIRST[who % 10]} {LAST[who // 10 % 10]}"
            else:
                person = ",,"
            where = "Andrassy" if rng.random() < 0.6 else "Bartok"
            comma = n % 2 == 0
            for _ in range(size):
                sku, name, price = MENU[rng.randrange(len(MENU))]
                qty = 1 if rng.random() < 0.85 else 2
                shown = f'"{price.replace(".", ",")}"' if comma else price
                out.write(f"R{n:08d},{when},{person},{name},{sku},{qty},{shown},{where}\n")
    return len(sizes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--database-url",
        default="",
        help=f"an empty database to use (default: create {DB_NAME} on 127.0.0.1 and drop it)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and the CSV")
    parser.add_argument("--reimport", action="store_true", help="also time importing it again")
    args = parser.parse_args()

    created = not args.database_url
    url = args.database_url or f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    if created:
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME], check=True)
        sh("createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "regulars.settings"}
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    workdir = Path(tempfile.mkdtemp(prefix="regulars-bench-import-"))
    csv_path = workdir / "sales.csv"
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from regulars.accounts.models import Business, Location
        from regulars.customers.models import Customer
        from regulars.sales.models import Product, Purchase, PurchaseLine

        call_command("migrate", verbosity=0)
        business = Business.objects.create(
            slug=SLUG, name="Bench Café", currency="EUR", timezone="Europe/Budapest"
        )
        Location.objects.bulk_create(
            Location(business=business, name=name) for name in ("Andrassy", "Bartok")
        )
        Product.objects.bulk_create(
            Product(business=business, sku=sku, name=name, price=price) for sku, name, price in MENU
        )
        t = time.monotonic()
        receipts = write_csv(csv_path, args.rows, args.customers, args.seed)
        size_mib = csv_path.stat().st_size / 2**20
        print(f"wrote {args.rows:,} rows ({receipts:,} receipts, {size_mib:.0f} MiB) in {time.monotonic() - t:.1f} s")

        # Everything else detected, as for an owner: the mixed dots and commas make it "auto".
        command = [str(ROOT / ".venv" / "bin" / "regulars"), "import", "--business", SLUG, str(csv_path)]
        started = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = time.monotonic() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(done.stderr.strip())
        if done.returncode != 0:
            print(done.stdout[-2000:])
            raise SystemExit(f"regulars import failed with {done.returncode}")
        purchases = Purchase.objects.filter(business=business).count()
        lines = PurchaseLine.objects.filter(purchase__business=business).count()
        customers = Customer.objects.filter(business=business).count()
        assert (purchases, lines) == (receipts, args.rows), (purchases, lines)
        rate = args.rows / seconds
        print(f"imported {args.rows:,} rows in {seconds:.1f} s: {rate:,.0f} rows/s, peak {peak_mib:.0f} MiB")
        result = {
            "rows": args.rows,
            "seconds": round(seconds, 2),
            "peak_mib": round(peak_mib, 1),
            "rows_per_s": round(rate),
            "purchases": purchases,
            "lines": lines,
            "customers": customers,
            "file_mib": round(size_mib, 1),
            "target_seconds": 60,
            "database": "postgresql",
        }
        if args.reimport:
            started = time.monotonic()
            again = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            result["reimport_seconds"] = round(time.monotonic() - started, 2)
            print(again.stderr.strip().splitlines()[-2])
            assert Purchase.objects.filter(business=business).count() == purchases
        print(json.dumps(result))
        return 0
    finally:
        if not args.keep:
            csv_path.unlink(missing_ok=True)
            workdir.rmdir()
            if created:
                from django.db import connections

                connections.close_all()
                subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME])


if __name__ == "__main__":
    sys.exit(main())
