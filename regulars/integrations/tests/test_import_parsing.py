"""Reading cells and guessing layouts: amounts never floats, dates, encodings, presets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from regulars.integrations.imports import parsing
from regulars.integrations.imports.parsing import CellError, parse_amount
from regulars.integrations.imports.presets import PRESETS, guess_mapping


@pytest.mark.parametrize(
    ("text", "decimal", "expected"),
    [
        ("1234.5", "auto", "1234.50"),
        ("1 234,50", "auto", "1234.50"),
        ("1,234.50", "auto", "1234.50"),
        ("1.234,50", "auto", "1234.50"),
        ("1\u00a0234,50", ",", "1234.50"),  # a no-break space groups thousands
        ("1'234.50", ".", "1234.50"),
        ("$6.50", "auto", "6.50"),
        ("€ 12", "auto", "12.00"),
        ("1 200 Ft", "auto", "1200.00"),
        ("4,5", "auto", "4.50"),
        ("0,500", "auto", "0.50"),
        ("1,234", ".", "1234.00"),
        ("1.234", ",", "1234.00"),
        ("1.234.567,89", "auto", "1234567.89"),
        ("-$2.66", "auto", "-2.66"),
        ("(3.00)", "auto", "-3.00"),
    ],
)
def test_amounts_are_read_as_exact_decimals(text, decimal, expected):
    value = parse_amount(text, decimal)
    assert isinstance(value, Decimal) and value == Decimal(expected)
    assert str(value) == expected  # always to the cent


@pytest.mark.parametrize(
    ("text", "decimal", "code"),
    [
        ("1,234", "auto", "ambiguous_amount"),  # 1234 or 1.234?
        ("1.234", "auto", "ambiguous_amount"),
        ("1,234", ",", "too_precise"),
        ("12.345", ".", "too_precise"),
        ("12,50", ".", "not_amount"),
        ("abc", "auto", "not_amount"),
        ("1.5.5", "auto", "not_amount"),
        ("12 34", "auto", "not_amount"),
        ("99999999999", "auto", "too_large"),
    ],
)
def test_what_cannot_be_read_for_sure_is_refused_with_a_reason(text, decimal, code):
    with pytest.raises(CellError) as caught:
        parse_amount(text, decimal)
    assert caught.value.code == code and caught.value.params["value"] == text


def test_a_file_says_its_decimal_separator_when_its_amounts_agree():
    assert parsing.guess_decimal(["4,50", "12,00", "1 200,00"]) == ","
    assert parsing.guess_decimal(["4.50", "1,234.00"]) == "."
    assert parsing.guess_decimal(["1.500", "2.000"]) == "auto"  # thousands or decimals: unknown
    assert parsing.guess_decimal(["4.50", "4,50"]) == "auto"


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("2024-10-07 09:50:26 +0200", "iso", datetime(2024, 10, 7, 9, 50, 26, tzinfo=timezone(timedelta(hours=2)))),
        ("2024-10-07T09:50:26Z", "iso", datetime(2024, 10, 7, 9, 50, 26, tzinfo=UTC)),
        ("2024-10-07 9:50", "iso", datetime(2024, 10, 7, 9, 50)),
        ("31.05.2016 0:37", "dmy", datetime(2016, 5, 31, 0, 37)),
        ("5/31/2016 12:37 PM", "mdy", datetime(2016, 5, 31, 12, 37)),
        ("5/31/16 1:05 am", "mdy", datetime(2016, 5, 31, 1, 5)),
        ("2016/05/31", "ymd", datetime(2016, 5, 31)),
        ("31-05-2016 14h05", "%d-%m-%Y %Hh%M", datetime(2016, 5, 31, 14, 5)),
    ],
)  # fmt: skip
def test_dates_are_read_in_the_chosen_format(text, fmt, expected):
    assert parsing.parse_datetime(text, fmt) == expected


def test_a_date_without_a_time_stays_a_date_so_the_importer_can_pick_noon():
    assert parsing.parse_moment("2024-10-07", "iso") == date(2024, 10, 7)
    assert parsing.parse_moment("07.10.2024", "dmy") == date(2024, 10, 7)
    assert isinstance(parsing.parse_moment("07.10.2024 8:00", "dmy"), datetime)


def test_a_bad_date_names_the_format_it_was_read_with():
    with pytest.raises(CellError) as caught:
        parsing.parse_datetime("13/13/2020", "dmy")
    assert caught.value.code == "not_date" and caught.value.params["format"] == "dmy"


def test_the_date_format_is_guessed_from_the_days_above_twelve():
    assert parsing.guess_date_format(["2024-01-02 10:00", "2024-01-03"]).format == "iso"
    assert parsing.guess_date_format(["31.05.2016", "01.06.2016"]).format == "dmy"
    assert parsing.guess_date_format(["5/31/2016 0:37", "6/1/2016"]).format == "mdy"
    ambiguous = parsing.guess_date_format(["04/05/2024"])
    assert ambiguous.ambiguous and ambiguous.format == "mdy"  # slashes: the US habit


def test_yes_no_quantities_phones_and_emails():
    assert parsing.parse_bool("Yes") and parsing.parse_bool("subscribed")
    assert not parsing.parse_bool("not_subscribed") and not parsing.parse_bool("нет")
    assert parsing.parse_quantity("2") == 2 and parsing.parse_quantity("2,0") == 2
    assert parsing.parse_quantity("0,25") == Decimal("0.25")
    assert parsing.parse_phone("'+36 30 111-2222") == "+36301112222"
    assert parsing.parse_email(" Dora@Example.COM ") == "dora@example.com"
    for parse, text in [
        (parsing.parse_bool, "maybe"),
        (parsing.parse_quantity, "0"),
        (parsing.parse_quantity, "-1"),
        (parsing.parse_phone, "12"),
        (parsing.parse_email, "dora@"),
    ]:
        with pytest.raises(CellError):
            parse(text)


def test_encoding_and_separator_are_detected_from_the_start_of_the_file(tmp_path):
    cyrillic = tmp_path / "ru.csv"
    cyrillic.write_bytes("Дата;Сумма;Имя\n2024-01-02;4,50;Дарья Иванова\n".encode("cp1251"))
    sniffed = parsing.sniff(str(cyrillic))
    assert (sniffed.encoding, sniffed.delimiter, sniffed.encoding_guessed) == ("cp1251", ";", True)
    assert sniffed.headers == ["Дата", "Сумма", "Имя"] and sniffed.rows[0][2] == "Дарья Иванова"

    central = tmp_path / "hu.csv"
    central.write_bytes("Dátum\tÖsszeg\tNév\n2024-01-02\t4,50\tŐze Árpád\n".encode("cp1250"))
    sniffed = parsing.sniff(str(central))
    assert (sniffed.encoding, sniffed.delimiter) == ("cp1250", "\t")
    assert sniffed.rows[0][2] == "Őze Árpád"

    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffDate,Amount\n2024-01-02,4.50\n".encode())
    sniffed = parsing.sniff(str(bom))
    assert (sniffed.encoding, sniffed.headers) == ("utf-8", ["Date", "Amount"])


SHOPIFY_HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,"
    "Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,"
    "Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,"
    "Billing Name,Billing Street,Billing Phone,Notes,Tags,Id,Phone,Location"
).split(",")
SQUARE_HEADER = (
    "Date,Time,Time Zone,Category,Item,Qty,Price Point Name,SKU,Modifiers Applied,Gross Sales,"
    "Discounts,Net Sales,Tax,Transaction ID,Payment ID,Device Name,Notes,Details,Event Type,"
    "Location,Dining Option,Customer ID,Customer Name,Customer Reference ID,Unit,Count"
).split(",")


def mapped(headers, preset):
    return {field: headers[i] for field, i in guess_mapping(headers, PRESETS[preset]).items()}


def test_the_shopify_preset_reads_the_orders_export():
    assert mapped(SHOPIFY_HEADER, "shopify-orders") == {
        "order_id": "Name",
        "date": "Created at",
        "email": "Email",
        "phone": "Phone",
        "customer_name": "Billing Name",
        "marketing_consent": "Accepts Marketing",
        "item": "Lineitem name",
        "sku": "Lineitem sku",
        "quantity": "Lineitem quantity",
        "unit_price": "Lineitem price",
        "order_total": "Total",
        "currency": "Currency",
        "status": "Financial Status",
        "location": "Location",
    }  # the order's "Tags" are not the customer's


def test_the_square_preset_reads_the_item_details_export():
    assert mapped(SQUARE_HEADER, "square-items") == {
        "order_id": "Transaction ID",
        "date": "Date",
        "time": "Time",
        "item": "Item",
        "sku": "SKU",
        "quantity": "Qty",
        "line_total": "Net Sales",
        "status": "Event Type",
        "location": "Location",
        "customer_id": "Customer ID",
        "customer_name": "Customer Name",
    }


def test_the_generic_preset_recognises_headers_in_any_case_and_in_five_languages():
    assert mapped(["DATE", "Receipt_No", "e-mail", "Qty", "Unit Price", "Customer"], "generic") == {
        "date": "DATE",
        "order_id": "Receipt_No",
        "email": "e-mail",
        "quantity": "Qty",
        "unit_price": "Unit Price",
        "customer_name": "Customer",
    }
    assert mapped(["Дата", "Сумма", "Телефон"], "generic") == {
        "date": "Дата",
        "line_total": "Сумма",
        "phone": "Телефон",
    }
    assert mapped(["Dátum", "Összeg", "Név"], "generic") == {
        "date": "Dátum",
        "line_total": "Összeg",
        "customer_name": "Név",
    }


def test_our_own_exports_map_back_with_the_generic_presets():
    from regulars.integrations.exports import EXPORTS

    purchases = mapped(EXPORTS["purchases"].header, "generic")
    assert purchases["order_id"] == "purchase" and purchases["date"] == "occurred_at"
    assert purchases["line_total"] == "line_total" and purchases["order_total"] == "total"
    assert purchases["customer_id"] == "customer_code" and purchases["email"] == "customer_email"
    customers = mapped(EXPORTS["customers"].header, "generic-customers")
    assert customers["customer_id"] == "code" and customers["joined"] == "joined_at"
    assert customers["marketing_consent"] == "marketing_consent"


def test_every_preset_maps_only_fields_of_its_kind():
    from regulars.integrations.imports.fields import FIELDS

    for preset in PRESETS.values():
        assert all(preset.kind in FIELDS[f].kinds for f in preset.columns), preset.name


def test_hyphenated_e_mail_headers_are_recognised():
    for header in ("Customer e-mail", "E-Mail address", "billing_e-mail"):
        headers = ["Date", "Amount", header]
        assert mapped(headers, "generic").get("email") == header, header
