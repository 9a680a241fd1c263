"""Importing past sales and customers: every bad line named, nothing twice, customers matched."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from regulars.customers.models import Customer, TimelineEntry
from regulars.integrations.imports import importer, jobs
from regulars.integrations.models import ImportJob
from regulars.integrations.tests.importing import check, import_file, make_job, write_csv
from regulars.sales.models import Product, Purchase, PurchaseLine

pytestmark = pytest.mark.django_db

GOOD = """
receipt,date,email,phone,name,item,qty,unit price
R1,2024-03-01 09:15,dora@example.com,,Dora Kovač,Flat white,2,3.20
R1,2024-03-01 09:15,dora@example.com,,Dora Kovač,Croissant,1,2.50
R2,2024-03-02 10:00,,+36 30 111 2222,Eve,Latte,1,3.80
R3,2024-03-02 11:30,,,,Espresso,1,2.00
R4,2024-03-03 08:00,DORA@example.com,,Dora K.,Latte,1,3.80
"""


def purchases(business):
    return Purchase.objects.filter(business=business)


def test_a_file_of_sales_becomes_purchases_with_lines_and_customers(alice_cafe, tmp_path):
    job, checked, result = import_file(alice_cafe, write_csv(tmp_path, GOOD))
    assert checked.ok and checked.rows == 5 and checked.records == 4
    assert (result.purchases_created, result.lines_created, result.customers_created) == (4, 5, 2)

    r1 = purchases(alice_cafe).get(external_id="R1")
    assert r1.total == Decimal("8.90") and r1.idempotency_key == "import:R1"
    lines = list(r1.lines.order_by("pk").values_list("name", "quantity", "unit_price", "amount"))
    assert lines == [
        ("Flat white", 2, Decimal("3.20"), Decimal("6.40")),
        ("Croissant", 1, Decimal("2.50"), Decimal("2.50")),
    ]
    # Naive times are the business's local time (UTC for Alice's café).
    assert r1.occurred_at == datetime(2024, 3, 1, 9, 15, tzinfo=ZoneInfo("UTC"))
    dora = r1.customer
    assert (dora.name, dora.email, dora.joined_at) == (
        "Dora Kovač",
        "dora@example.com",
        r1.occurred_at,
    )
    # The e-mail in another case on R4 is the same Dora: matched, not created again.
    assert purchases(alice_cafe).get(external_id="R4").customer == dora
    assert purchases(alice_cafe).get(external_id="R2").customer.phone == "+36301112222"
    assert purchases(alice_cafe).get(external_id="R3").customer is None
    kinds = list(dora.timeline.order_by("at", "pk").values_list("kind", "data"))
    assert kinds[0] == ("joined", {})
    assert kinds[1] == ("purchase", {"purchase": r1.code, "total": "8.90"})
    assert job.status == ImportJob.Status.DONE and job.result["purchases_created"] == 4


def test_importing_the_same_file_again_adds_nothing(alice_cafe, tmp_path):
    path = write_csv(tmp_path, GOOD)
    import_file(alice_cafe, path)
    before = (purchases(alice_cafe).count(), PurchaseLine.objects.count(), Customer.objects.count())
    _job, _checked, again = import_file(alice_cafe, path)
    assert (again.purchases_created, again.purchases_existing, again.customers_created) == (0, 4, 0)
    after = (purchases(alice_cafe).count(), PurchaseLine.objects.count(), Customer.objects.count())
    assert before == after


def test_a_later_export_that_repeats_old_orders_adds_only_the_new_ones(alice_cafe, tmp_path):
    import_file(alice_cafe, write_csv(tmp_path, GOOD))
    newer = GOOD + "R5,2024-03-04 08:00,eve@example.com,+36301112222,Eve,Tea,1,2.00\n"
    _job, _checked, result = import_file(alice_cafe, write_csv(tmp_path, newer, "newer.csv"))
    assert (result.purchases_created, result.purchases_existing) == (1, 4)
    # Eve's phone matches the customer made from R2, so no second Eve.
    assert (result.customers_created, result.customers_matched) == (0, 1)


def test_rows_without_an_order_id_are_recognised_by_content_and_copies_are_kept(
    alice_cafe, tmp_path
):
    text = """
date,amount,email
2024-03-01 09:15,3.20,dora@example.com
2024-03-01 09:15,3.20,dora@example.com
2024-03-01 09:20,2.50,
"""
    path = write_csv(tmp_path, text)
    _job, checked, result = import_file(alice_cafe, path)
    # Two identical coffees at the same minute are two sales.
    assert result.purchases_created == 3 and checked.copies == {3: 2}
    keys = set(purchases(alice_cafe).values_list("idempotency_key", flat=True))
    assert len(keys) == 3 and all(k.startswith("import:r:") for k in keys)
    assert sum(k.endswith(":2") for k in keys) == 1
    _job, _checked, again = import_file(alice_cafe, path)
    assert (again.purchases_created, again.purchases_existing) == (0, 3)


def test_every_kind_of_bad_line_is_reported_with_its_number_and_field(alice_cafe, tmp_path, make):
    future = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%d %H:%M")
    text = f"""
receipt,date,email,phone,item,qty,unit price,total,currency,location
A1,2024-03-01 09:00,,,Latte,1,3.80,,EUR,Main Street
A2,2024-13-45 09:00,,,Latte,1,3.80,,,
A3,,,,Latte,1,3.80,,,
A4,{future},,,Latte,1,3.80,,,
A5,2024-03-01 09:00,,,Latte,1,abc,,,
A6,2024-03-01 09:00,,,Latte,1,"1,234",,,
A7,2024-03-01 09:00,,,Latte,1,-2.00,,,
A8,2024-03-01 09:00,dora@,,Latte,1,3.80,,,
A9,2024-03-01 09:00,,12,Latte,1,3.80,,,
A10,2024-03-01 09:00,,,Latte,none,3.80,,,
A11,2024-03-01 09:00,,,Latte,1,3.80,,USD,
A12,2024-03-01 09:00,,,Latte,1,3.80,,,Moon Base
A13,2024-03-01 09:00,,,Latte,1,,,,
A1,2024-03-01 09:00,,,Cake,1,4.00,,,
A14,2024-03-01 09:00,,,Latte,1,3.80,-5,,
"""
    job = make_job(alice_cafe, write_csv(tmp_path, text), decimal="auto")
    assert job.mapping["order_total"] == 7 and job.mapping["location"] == 9
    checked = check(job)
    found = {(p.line, p.field, p.code) for p in checked.problems}
    assert found == {
        (3, "date", "not_date"),
        (4, "date", "required"),
        (5, "date", "future"),
        (6, "unit_price", "not_amount"),
        (7, "unit_price", "ambiguous_amount"),
        (8, "unit_price", "negative"),
        (9, "email", "not_email"),
        (10, "phone", "not_phone"),
        (11, "quantity", "not_quantity"),
        (12, "currency", "currency"),
        (13, "location", "no_location"),
        (14, "line_total", "no_amount"),
        (15, "order_id", "order_split"),
        (16, "order_total", "negative"),
    }
    assert checked.bad_lines == 14 and job.error_count == 14
    # Stored as codes on the job, rendered in the reader's language.
    shown = {p["line"]: p for p in ImportJob.objects.get(pk=job.pk).errors}
    assert shown[15]["params"] == {"first": "2"}
    messages = [str(p) for p in checked.problems]
    assert (
        "line 7: Unit price: “1,234” can be read two ways; choose the decimal separator of the file"
        in messages
    )
    assert "line 12: Currency: is USD, but this business counts in EUR" in messages
    assert "line 15: Order / receipt id: this order already appeared at line 2; the rows of one order must follow each other" in messages  # fmt: skip


def test_stop_on_error_imports_nothing_while_any_line_is_bad(alice_cafe, tmp_path):
    text = GOOD + "R9,yesterday,,,,Latte,1,3.80\n"
    job, checked, result = import_file(alice_cafe, write_csv(tmp_path, text), on_error="stop")
    assert result is None and checked.bad_lines == 1
    assert "Some lines are bad" in jobs.can_start(job)
    with pytest.raises(jobs.ImportRefused):
        jobs.queue(job)
    assert not purchases(alice_cafe).exists() and not Customer.objects.exists()


def test_skip_imports_the_good_orders_and_reports_what_it_left_out(alice_cafe, tmp_path):
    text = """
receipt,date,email,item,qty,unit price,status
R1,2024-03-01 09:15,dora@example.com,Flat white,2,3.20,paid
R2,2024-03-01 09:20,eve@example.com,Latte,1,3.80,paid
R2,2024-03-01 09:20,eve@example.com,Cake,x,4.00,
R3,2024-03-01 10:00,,Latte,1,3.80,refunded
R4,2024-03-01 10:30,,Latte,1,3.80,paid
"""
    skipped = []
    job = make_job(alice_cafe, write_csv(tmp_path, text), on_error="skip")
    check(job)
    assert jobs.can_start(job) == ""
    jobs.queue(job)
    result = jobs.run_job(job, on_skipped=skipped.append)
    assert sorted(purchases(alice_cafe).values_list("external_id", flat=True)) == ["R1", "R4"]
    # The whole of order R2 is left out with its bad line, and R3 for its status.
    assert (result.skipped_rows, result.ignored_rows) == (2, 1)
    assert [(p.line, p.code) for p in skipped] == [
        (4, "not_quantity"),
        (3, "with_order"),
        (5, "ignored_status"),
    ]
    assert not Customer.objects.filter(email="eve@example.com").exists()


def test_the_report_of_skipped_lines_is_a_csv_with_line_reason_and_the_row(
    alice_cafe, tmp_path, settings
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    text = "date,amount,name\n2024-03-01,3.20,Ann\n2024-03-02,oops,Bob\n"
    job = make_job(alice_cafe, write_csv(tmp_path, text), on_error="skip")
    job.file.name = "imports/alice-cafe/upload.csv"  # as if uploaded: reports go to MEDIA_ROOT
    (tmp_path / "media/imports/alice-cafe").mkdir(parents=True)
    (tmp_path / "media/imports/alice-cafe/upload.csv").write_text(text)
    job.save()
    check(job)
    jobs.queue(job)
    jobs.run_job(job)
    job.refresh_from_db()
    assert job.report_file.name == f"imports/alice-cafe/{job.code}-skipped.csv"
    with job.report_file.open("rb") as f:
        rows = list(csv.reader(io.StringIO(f.read().decode("utf-8-sig"))))
    assert rows == [
        ["line", "column", "problem", "date", "amount", "name"],
        ["3", "Line total", "“oops” is not an amount", "2024-03-02", "oops", "Bob"],
    ]
    with job.error_file.open("rb") as f:
        assert "“oops” is not an amount" in f.read().decode("utf-8-sig")


def test_customers_are_matched_by_email_phone_and_id_never_duplicated(
    alice_cafe, tmp_path, make, monkeypatch
):
    monkeypatch.setattr(importer, "BATCH", 2)  # matches must also hold across batches
    dora = make.customer(alice_cafe, name="Dora", email="dora@example.com")
    eve = make.customer(alice_cafe, name="Eve", phone="+36301112222")
    finn = make.customer(alice_cafe, name="Finn", external_id="POS-77")
    text = """
receipt,date,customer id,email,phone,name,amount
1,2024-03-01,,Dora@Example.com,,D,1.00
2,2024-03-01,,,06 30 111 2222,,1.00
3,2024-03-01,,,+36 30 111 2222,,1.00
4,2024-03-01,POS-77,,,,1.00
5,2024-03-01,POS-88,gus@example.com,,Gus,1.00
6,2024-03-01,,gus@example.com,,Gus,1.00
7,2024-03-01,POS-88,,,,1.00
8,2024-03-01,POS-77,dora@example.com,,,1.00
"""
    _job, _checked, result = import_file(alice_cafe, write_csv(tmp_path, text))
    owner = dict(purchases(alice_cafe).values_list("external_id", "customer_id"))
    gus = Customer.objects.get(email="gus@example.com")
    # "06 30…" is not "+36 30…": a new customer, named by the phone it has.
    local = Customer.objects.get(phone="06301112222")
    assert local.name == "06301112222"
    assert owner == {
        "1": dora.pk,
        "2": local.pk,
        "3": eve.pk,
        "4": finn.pk,
        "5": gus.pk,
        "6": gus.pk,
        "7": gus.pk,
        "8": finn.pk,  # the customer id is looked at first
    }
    assert gus.external_id == "POS-88" and gus.name == "Gus"
    assert (result.customers_created, result.customers_matched) == (2, 3)
    assert Customer.objects.filter(business=alice_cafe).count() == 5


def test_an_import_never_matches_another_business_customers(
    alice_cafe, charlie_bakery, tmp_path, make
):
    theirs = make.customer(charlie_bakery, name="Eve Bakery", email="eve@example.com")
    text = "date,amount,email\n2024-03-01,3.00,eve@example.com\n"
    _job, _checked, result = import_file(alice_cafe, write_csv(tmp_path, text))
    mine = purchases(alice_cafe).get().customer
    assert mine != theirs and mine.business == alice_cafe and result.customers_created == 1
    assert not Purchase.objects.filter(customer=theirs).exists()


def test_order_totals_keep_discounts_and_charges_as_one_extra_line(alice_cafe, tmp_path):
    text = """
order,date,item,qty,price,total
#1,2024-03-01,Beans,2,10.00,18.50
#1,2024-03-01,Mug,1,5.00,
#2,2024-03-01,Tea,1,3.00,3.00
#3,2024-03-01,,,,12.00
"""
    import_file(alice_cafe, write_csv(tmp_path, text))
    one = purchases(alice_cafe).get(external_id="#1")
    assert one.total == Decimal("18.50")
    assert list(one.lines.order_by("pk").values_list("name", "amount")) == [
        ("Beans", Decimal("20.00")),
        ("Mug", Decimal("5.00")),
        ("Other charges and discounts", Decimal("-6.50")),
    ]
    assert purchases(alice_cafe).get(external_id="#2").lines.count() == 1
    three = purchases(alice_cafe).get(external_id="#3")
    assert three.total == Decimal("12.00") and three.lines.get().amount == Decimal("12.00")


def test_decimal_commas_and_a_day_first_file_in_a_local_time_zone(alice_cafe, tmp_path):
    alice_cafe.timezone = "Europe/Budapest"
    alice_cafe.save()
    text = "Dátum;Összeg;Név;Telefon\n31.05.2024 14:05;1 234,50;Ági;+36301112222\n01.06.2024;4,5;Ági;+36301112222\n"
    job, checked, result = import_file(alice_cafe, write_csv(tmp_path, text))
    assert (job.option("delimiter"), job.option("decimal"), job.option("date_format")) == (
        ";",
        ",",
        "dmy",
    )
    first, second = purchases(alice_cafe).order_by("occurred_at")
    assert first.total == Decimal("1234.50") and second.total == Decimal("4.50")
    budapest = ZoneInfo("Europe/Budapest")
    assert first.occurred_at == datetime(2024, 5, 31, 14, 5, tzinfo=budapest)
    assert second.occurred_at == datetime(2024, 6, 1, 12, 0, tzinfo=budapest)  # a date alone: noon


@pytest.mark.parametrize("encoding", ["cp1251", "utf-8-sig", "utf-8"])
def test_files_in_windows_code_pages_and_utf8_with_or_without_bom(alice_cafe, tmp_path, encoding):
    text = "Дата,Сумма,Имя,Телефон\n2024-03-01,4.50,Дарья Иванова,+79161234567\n"
    path = write_csv(tmp_path, text, encoding=encoding)
    job, checked, result = import_file(alice_cafe, path)
    assert job.option("encoding") == ("cp1251" if encoding == "cp1251" else "utf-8")
    assert checked.ok and Customer.objects.get().name == "Дарья Иванова"


def test_a_file_in_the_wrong_encoding_is_refused_at_the_line_where_reading_fails(
    alice_cafe, tmp_path, monkeypatch
):
    from regulars.integrations.imports import parsing

    monkeypatch.setattr(parsing, "SNIFF_BYTES", 4096)  # the detection sees the start only
    rows = "".join(f"2024-03-01,{i}.00,Ann\n" for i in range(1, 4000))
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        ("date,amount,name\n" + rows).encode() + "2024-03-02,1.00,Дарья\n".encode("cp1251")
    )
    job = make_job(alice_cafe, str(path))
    assert job.option("encoding") == "utf-8"  # the start of the file is plain ASCII
    checked = check(job)
    assert checked.fatal is not None and checked.fatal.code == "encoding"
    assert "cannot be read to the end" in jobs.can_start(job)


def test_square_item_details_money_signs_separate_times_and_refund_rows(alice_cafe, tmp_path):
    text = """
Date,Time,Time Zone,Category,Item,Qty,Price Point Name,SKU,Gross Sales,Discounts,Net Sales,Transaction ID,Event Type,Location,Customer ID,Customer Name
2024-10-09,22:40:39,Central European Time,Coffee,Latte,2,Regular,LT1,$8.00,$0.00,$8.00,TX1,Payment,Main Street,SQ-1,Dora K
2024-10-09,22:40:39,Central European Time,Food,Cake,1,Regular,CK1,$4.50,-$0.50,$4.00,TX1,Payment,Main Street,SQ-1,Dora K
2024-10-10,09:00:00,Central European Time,Coffee,Latte,-1,Regular,LT1,-$4.00,$0.00,-$4.00,TX2,Refund,Main Street,SQ-1,Dora K
"""
    latte = Product.objects.create(business=alice_cafe, sku="LT1", name="Latte", price=Decimal("4"))
    job, checked, result = import_file(alice_cafe, write_csv(tmp_path, text), preset="square-items")
    assert checked.ok and (result.purchases_created, result.ignored_rows) == (1, 1)
    sale = purchases(alice_cafe).get()
    assert sale.total == Decimal("12.00") and sale.location.name == "Main Street"
    assert sale.occurred_at.isoformat() == "2024-10-09T22:40:39+00:00"
    assert sale.customer.external_id == "SQ-1"
    assert sale.lines.get(name="Latte").product == latte


def test_customer_lists_create_or_match_people_and_never_duplicate(alice_cafe, tmp_path, make):
    make.customer(alice_cafe, name="Dora", email="dora@example.com", notes="kept")
    text = """
First Name,Last Name,Email,Phone,Accepts Email Marketing,Tags,Note,Customer ID
Dora,Kovač,dora@example.com,,no,,,
Eve,Szabó,eve@example.com,+36 30 111 2222,yes,"vip, office",Likes tea,9001
,,,,,,,
Finn,,,,yes,,,
"""
    job, checked, result = import_file(
        alice_cafe, write_csv(tmp_path, text), preset="shopify-customers", on_error="skip"
    )
    assert [(p.line, p.code) for p in checked.problems] == [(5, "no_identity")]
    assert (result.customers_created, result.customers_matched) == (1, 1)
    eve = Customer.objects.get(email="eve@example.com")
    assert (eve.name, eve.phone, eve.external_id, eve.notes) == (
        "Eve Szabó",
        "+36301112222",
        "9001",
        "Likes tea",
    )
    assert eve.marketing_consent and eve.consent_at == eve.joined_at
    assert sorted(eve.tags.values_list("name", flat=True)) == ["office", "vip"]
    assert Customer.objects.get(email="dora@example.com").notes == "kept"  # not overwritten
    assert TimelineEntry.objects.filter(customer=eve, kind="joined").count() == 1
    _job, _checked, again = import_file(
        alice_cafe, write_csv(tmp_path, text), preset="shopify-customers", on_error="skip"
    )
    assert (again.customers_created, again.customers_matched) == (0, 2)


def test_a_customer_created_from_a_newest_first_file_joined_at_their_first_purchase(
    alice_cafe, tmp_path, monkeypatch
):
    monkeypatch.setattr(importer, "BATCH", 1)
    text = "date,amount,email\n2024-05-01,1.00,dora@example.com\n2024-02-01,1.00,dora@example.com\n"
    import_file(alice_cafe, write_csv(tmp_path, text))
    dora = Customer.objects.get()
    assert dora.joined_at.date().isoformat() == "2024-02-01"
    assert dora.timeline.get(kind="joined").at == dora.joined_at


def test_back_fill_runs_imported_sales_through_the_loyalty_programs_once(
    alice_cafe, tmp_path, make
):
    from regulars.loyalty.models import LedgerEntry, Program
    from regulars.loyalty.sale import record_sale

    Program.objects.create(
        business=alice_cafe,
        kind=Program.Kind.POINTS,
        name="Points",
        config={"points_per_unit": "1"},
    )
    # Eve already has points from the counter: her imported sales are accrued one by one.
    eve = make.customer(alice_cafe, name="Eve", email="eve@example.com")
    record_sale(business=alice_cafe, customer=eve, amount=Decimal("5"), idempotency_key="counter-1")
    text = "receipt,date,email,amount\nR1,2024-03-01,dora@example.com,12.00\nR2,2024-03-02,eve@example.com,7.00\nR3,2024-03-03,,9.00\n"
    path = write_csv(tmp_path, text)
    job, _checked, result = import_file(alice_cafe, path, backfill=True)
    assert result.accrued == 2 and job.result["accrued"] == 2
    earned = dict(
        LedgerEntry.objects.filter(kind="earn", purchase__external_id__in=["R1", "R2"]).values_list(
            "purchase__external_id", "amount"
        )
    )
    assert earned == {"R1": 12, "R2": 7}
    _job, _checked, again = import_file(alice_cafe, path, backfill=True)
    assert again.purchases_created == 0 and again.accrued == 0
    assert LedgerEntry.objects.filter(kind="earn").count() == 3


def test_without_back_fill_imported_sales_are_history_only(alice_cafe, tmp_path):
    from regulars.loyalty.models import LedgerEntry, Program

    Program.objects.create(
        business=alice_cafe,
        kind=Program.Kind.POINTS,
        name="Points",
        config={"points_per_unit": "1"},
    )
    import_file(alice_cafe, write_csv(tmp_path, GOOD))
    assert purchases(alice_cafe).count() == 4 and not LedgerEntry.objects.exists()


def test_the_command_checks_imports_and_reports(alice_cafe, tmp_path, capsys):
    path = write_csv(tmp_path, GOOD.replace("R3,2024-03-02 11:30", "R3,2024-02-30 11:30"))
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import", path, business="alice-cafe")
    assert (
        "line 5: Date: “2024-02-30 11:30” is not a date in the format iso"
        in capsys.readouterr().out
    )
    assert not purchases(alice_cafe).exists()

    call_command("import", path, business="alice-cafe", on_error="skip", map=["name=customer_name"])
    out, err = capsys.readouterr()
    assert "skipped line 5" in out and "purchases: 3 added, 0 already there" in err
    assert ImportJob.objects.filter(status=ImportJob.Status.DONE).count() == 1

    call_command("import", path, business="alice-cafe", on_error="skip")
    assert "purchases: 0 added, 3 already there" in capsys.readouterr().err


def test_the_command_maps_columns_by_name_or_number_and_a_dry_run_writes_nothing(
    alice_cafe, tmp_path, capsys
):
    path = write_csv(tmp_path, "when;what;paid\n01/02/2024;Latte;3,80\n")
    call_command(
        "import", path, business="alice-cafe", map=["when=date", "3=line_total", "what=item"],
        date_format="dmy", delimiter=";", decimal=",", dry_run=True,
    )  # fmt: skip
    err = capsys.readouterr().err
    assert "date               <- 1: when" in err and "dry run: nothing was imported" in err
    assert not purchases(alice_cafe).exists() and not ImportJob.objects.exists()
    with pytest.raises(CommandError, match="no column"):
        call_command("import", path, business="alice-cafe", map=["nope=date"])
    with pytest.raises(CommandError, match="business"):
        call_command("import", path, business="nobody")


def test_a_first_import_skips_the_look_up_of_keys_a_re_import_does_it(
    alice_cafe, tmp_path, monkeypatch
):
    monkeypatch.setattr(importer, "BATCH", 2)
    calls = []
    existing = importer.BulkWriter.existing

    def spy(self, *args, **kwargs):
        calls.append(args)
        return existing(self, *args, **kwargs)

    monkeypatch.setattr(importer.BulkWriter, "existing", spy)
    path = write_csv(tmp_path, GOOD)
    import_file(alice_cafe, path)
    assert calls == []  # nothing imported before: no key of the file can be there
    _job, _checked, again = import_file(alice_cafe, path)
    assert len(calls) == 2 and (again.purchases_created, again.purchases_existing) == (0, 4)


def test_a_key_written_by_someone_else_meanwhile_is_still_never_written_twice(
    alice_cafe, tmp_path, monkeypatch
):
    # The first-import shortcut sees no imported purchase, yet R2 is there (a concurrent
    # import): the unique key refuses the batch, and its retry looks the keys up.
    path = write_csv(tmp_path, GOOD)
    job = make_job(alice_cafe, path)
    check(job)
    Purchase.objects.create(
        business=alice_cafe, occurred_at=timezone.now(), total=Decimal("1.00"),
        external_id="R2", idempotency_key="import:R2",
    )  # fmt: skip
    monkeypatch.setattr(importer, "KEY_PREFIX", "no-import-has-this-prefix:")
    jobs.queue(job)
    result = jobs.run_job(job)
    assert (result.purchases_created, result.purchases_existing) == (3, 1)
    assert purchases(alice_cafe).filter(idempotency_key="import:R2").count() == 1


def test_the_garbage_collector_is_paused_while_reading_and_on_again_after(
    alice_cafe, tmp_path, monkeypatch
):
    import gc

    monkeypatch.setattr(importer, "COLLECT_EVERY", 2)
    seen = []
    reader_records = importer.Reader.records

    def records(self):
        for record in reader_records(self):
            seen.append(gc.isenabled())
            yield record

    monkeypatch.setattr(importer.Reader, "records", records)
    assert gc.isenabled()
    _job, checked, result = import_file(alice_cafe, write_csv(tmp_path, GOOD))
    assert checked.ok and result.purchases_created == 4
    assert seen and not any(seen) and gc.isenabled()
