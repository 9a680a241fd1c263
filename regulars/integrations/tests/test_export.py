"""Exports: what each CSV holds, that it streams, and that it is the business's own data only."""

from __future__ import annotations

import csv
import inspect
import io
import types
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from regulars.customers.models import Tag
from regulars.integrations import exports
from regulars.loyalty.ledger import redeem
from regulars.loyalty.models import Program, Reward
from regulars.loyalty.sale import record_sale
from regulars.sales.models import Product
from regulars.sales.purchases import Line, record_purchase

pytestmark = pytest.mark.django_db

AT = datetime(2024, 3, 1, 9, 15, tzinfo=ZoneInfo("UTC"))


def read(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def export(kind, business, **kw) -> list[dict]:
    return read("".join(exports.stream(kind, business, **kw)))


@pytest.fixture
def history(alice_cafe, charlie_bakery, make):
    """Dora with tags, two purchases (one of two lines), points and a voucher; Eve at Charlie's."""
    dora = make.customer(
        alice_cafe, name="=Dora", email="dora@example.com", phone="+36301112222",
        marketing_consent=True, notes="oat milk", birthday=date(1990, 5, 17),
    )  # fmt: skip
    dora.tags.add(Tag.objects.create(business=alice_cafe, name="vegan"))
    points = Program.objects.create(
        business=alice_cafe,
        kind=Program.Kind.POINTS,
        name="Points",
        config={"points_per_unit": "1"},
    )
    cake = Reward.objects.create(
        business=alice_cafe, program=points, name="Cake", kind=Reward.Kind.FREE_PRODUCT, cost=5
    )
    latte = Product.objects.create(
        business=alice_cafe, sku="LT1", name="Latte", price=Decimal("3.80")
    )
    record_sale(
        business=alice_cafe, customer=dora, idempotency_key="s1", occurred_at=AT,
        lines=[Line(name="", unit_price=Decimal("3.80"), quantity=2, product=latte),
               Line(name="Croissant", unit_price=Decimal("2.50"))],
    )  # fmt: skip
    record_purchase(
        business=alice_cafe, customer=None, amount=Decimal("1.20"), idempotency_key="s2",
        occurred_at=AT + timedelta(days=40),
    )  # fmt: skip
    voucher = redeem(customer=dora, reward=cake, idempotency_key="r1", now=AT + timedelta(days=1))
    eve = make.customer(charlie_bakery, name="Eve Charlie-Secret", email="eve@example.com")
    make.purchase(charlie_bakery, eve, amount="999.00")
    return types.SimpleNamespace(dora=dora, voucher=voucher, points=points)


def test_customers_export(alice_cafe, history):
    (row,) = export("customers", alice_cafe)
    dora = history.dora
    assert row == {
        "code": dora.code, "card_code": dora.card_code, "name": "'=Dora",  # no formula
        "email": "dora@example.com", "phone": "+36301112222", "birthday": "1990-05-17",
        "language": "", "marketing_consent": "yes", "consent_at": "", "joined_at": dora.joined_at.isoformat(),
        "external_id": "", "home_location": "", "tags": "vegan", "notes": "oat milk",
    }  # fmt: skip


def test_purchases_export_has_one_row_per_line_item(alice_cafe, history):
    rows = export("purchases", alice_cafe)
    assert [(r["item"], r["sku"], r["quantity"], r["unit_price"], r["line_total"], r["total"]) for r in rows] == [
        ("Latte", "LT1", "2", "3.80", "7.60", "10.10"),
        ("Croissant", "", "1", "2.50", "2.50", "10.10"),
        ("", "", "1", "1.20", "1.20", "1.20"),
    ]  # fmt: skip
    assert (
        rows[0]["purchase"] == rows[1]["purchase"] and rows[0]["customer_code"] == history.dora.code
    )
    assert rows[0]["occurred_at"] == "2024-03-01T09:15:00+00:00" and rows[2]["customer_code"] == ""
    assert "999" not in str(rows)


def test_exports_are_in_the_business_time_zone_and_cut_by_its_days(alice_cafe, history):
    alice_cafe.timezone = "Europe/Budapest"
    alice_cafe.save()
    rows = export("purchases", alice_cafe, since=date(2024, 3, 2))
    assert [r["total"] for r in rows] == ["1.20"]
    rows = export("purchases", alice_cafe, until=date(2024, 3, 1))
    assert {r["occurred_at"] for r in rows} == {"2024-03-01T10:15:00+01:00"}


def test_ledger_and_redemptions_exports(alice_cafe, history):
    ledger = export("ledger", alice_cafe)
    assert [(r["kind"], r["amount"], r["unit"], r["program"]) for r in ledger] == [
        ("earn", "10", "points", "Points"),
        ("redeem", "-5", "points", "Points"),
    ]
    assert ledger[0]["purchase"] and ledger[1]["customer_code"] == history.dora.code
    (voucher,) = export("redemptions", alice_cafe)
    assert (voucher["voucher"], voucher["reward"], voucher["cost"], voucher["status"]) == (
        history.voucher.code, "Cake", "5", "issued"
    )  # fmt: skip


def test_the_survey_export_has_its_header_until_surveys_exist(alice_cafe):
    text = "".join(exports.stream("surveys", alice_cafe))
    assert text == "\ufeffsurvey,question,customer_code,answered_at,score,answer\r\n"


def test_the_export_is_a_stream_of_pieces_not_a_built_string(client, alice, alice_cafe, history):
    client.force_login(alice)
    response = client.get(reverse("export_csv", args=["alice-cafe", "purchases"]))
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    assert not response.has_header("Content-Length")
    assert inspect.isgenerator(exports.stream("purchases", alice_cafe))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="alice-cafe-purchases.csv"'
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("\ufeffpurchase,occurred_at") and "Croissant" in body
    dated = client.get(
        reverse("export_csv", args=["alice-cafe", "purchases"]), {"since": "2024-04-01"}
    )
    assert 'filename="alice-cafe-purchases-2024-04-01.csv"' in dated["Content-Disposition"]
    assert client.get(reverse("export_csv", args=["alice-cafe", "nothing"])).status_code == 404
    bad = client.get(reverse("export_csv", args=["alice-cafe", "ledger"]), {"since": "soon"})
    assert bad.status_code == 400


def test_the_export_reads_the_database_a_chunk_at_a_time(alice_cafe, monkeypatch):
    """A small stand-in for a huge export: rows are fetched and written chunk by chunk, and
    the first piece is out before most rows have been read."""
    for i in range(120):
        record_purchase(
            business=alice_cafe, customer=None, amount=Decimal("1.00"), idempotency_key=f"p{i}",
            occurred_at=AT + timedelta(minutes=i),
        )  # fmt: skip
    monkeypatch.setattr(exports, "ROWS_PER_PIECE", 10)
    pieces = exports.stream("purchases", alice_cafe, chunk_size=25)
    with CaptureQueriesContext(connection) as first:
        header = next(pieces)
        body = next(pieces)
    assert header.startswith("\ufeffpurchase") and body.count("\n") == 10
    line_queries = [q for q in first.captured_queries if "sales_purchaseline" in q["sql"]]
    assert len(line_queries) == 1  # the lines of the first chunk only
    with CaptureQueriesContext(connection) as rest:
        remaining = list(pieces)
    assert sum(p.count("\n") for p in remaining) == 110
    assert len([q for q in rest.captured_queries if "sales_purchaseline" in q["sql"]]) == 4


def test_the_command_writes_a_file_or_standard_output(alice_cafe, history, tmp_path, capsys):
    target = tmp_path / "customers.csv"
    call_command("export", "customers", business="alice-cafe", output=str(target))
    assert read(target.read_text(encoding="utf-8"))[0]["email"] == "dora@example.com"
    call_command("export", "ledger", business="alice-cafe", since="2024-03-02")
    rows = read(capsys.readouterr().out)
    assert [r["kind"] for r in rows] == ["redeem"]


def test_exported_purchases_import_back_unchanged(alice_cafe, charlie_bakery, history, tmp_path):
    """A business moving servers: the purchases export is an import file of the generic preset."""
    from regulars.integrations.tests.importing import import_file, write_csv
    from regulars.sales.models import Purchase

    charlie_bakery.currency = "EUR"
    charlie_bakery.save()
    text = "".join(exports.stream("purchases", alice_cafe))
    _job, checked, result = import_file(charlie_bakery, write_csv(tmp_path, text))
    assert checked.ok and result.purchases_created == 2
    moved = Purchase.objects.filter(business=charlie_bakery).exclude(total=Decimal("999.00"))
    assert sorted(p.total for p in moved) == [Decimal("1.20"), Decimal("10.10")]
    big = moved.get(total=Decimal("10.10"))
    assert list(big.lines.order_by("pk").values_list("name", "quantity", "amount")) == [
        ("Latte", 2, Decimal("7.60")),
        ("Croissant", 1, Decimal("2.50")),
    ]
    assert (
        big.customer.email == "dora@example.com" and big.customer.external_id == history.dora.code
    )


def test_a_reader_that_stops_early_is_not_an_error(tmp_path):
    """`regulars export … | head`: the closed pipe ends the export quietly, exit code 0."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    regulars = str(Path(sys.executable).with_name("regulars"))
    env = {**os.environ, "REGULARS_VAR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/db"}
    # Far more than a pipe holds (64 KiB), so the export is still writing when the reader goes.
    subprocess.run(
        [regulars, "demo", "--customers", "150", "--no-serve"],
        env=env, check=True, timeout=180, capture_output=True,
    )  # fmt: skip
    export = subprocess.Popen(
        [regulars, "export", "purchases", "--business", "demo"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    export.stdout.readline()  # the header, then the reader goes away
    export.stdout.close()
    _out, err = export.communicate(timeout=60)
    assert export.returncode == 0 and b"Traceback" not in err, err.decode()
