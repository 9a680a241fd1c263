"""The owner's import pages: upload, map with a preview, check, import in the background."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from regulars.integrations.models import ImportJob
from regulars.integrations.tests.importing import make_job, write_csv
from regulars.sales.models import Purchase

pytestmark = pytest.mark.django_db

SLUG = "alice-cafe"
SALES = (
    "Receipt;Date;E-mail;Item;Qty;Price\n"
    "R1;01.03.2024 09:15;dora@example.com;Flat white;2;3,20\n"
    "R1;01.03.2024 09:15;dora@example.com;Croissant;1;2,50\n"
    "R2;02.03.2024 10:00;eve@example.com;Latte;1;3,80\n"
    "R3;31.02.2024 10:00;;Latte;1;3,80\n"
)


def url(name, *args, slug=SLUG):
    return reverse(name, args=[slug, *args])


@pytest.fixture
def owner(client, alice, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # The background steps run inline, as `regulars db_worker` would run them.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    client.force_login(alice)
    return client


def upload(client, text: str, name: str = "sales.csv", **fields):
    data = {"file": SimpleUploadedFile(name, text.encode(), "text/csv"), "preset": "generic"}
    return client.post(url("import_list"), {**data, **fields})


def mapping_post(job: ImportJob, **changes) -> dict:
    """The mapping form as the page posts it, with changes."""
    data = {f"map_{field}": str(index) for field, index in job.mapping.items()}
    data.update({k: job.option(k) for k in ("encoding", "delimiter", "decimal", "date_format")})
    data.update(on_error=job.option("on_error"), source="")
    data.update(changes)
    return data


def test_upload_map_preview_check_and_import(owner, alice_cafe, make, settings):
    dora = make.customer(alice_cafe, name="Dora Kovač", email="dora@example.com")
    response = upload(owner, SALES)
    job = ImportJob.objects.get(business=alice_cafe)
    assert response.status_code == 302 and response["Location"] == url("import_detail", job.code)
    # Stored under MEDIA_ROOT/imports/<business>/ under the job's code, not the user's name.
    stored = Path(settings.MEDIA_ROOT) / "imports" / "alice-cafe" / f"{job.code}.csv"
    assert job.file.path == str(stored) and stored.read_text() == SALES
    assert job.mapping == {
        "order_id": 0,
        "date": 1,
        "email": 2,
        "item": 3,
        "quantity": 4,
        "unit_price": 5,
    }
    assert (job.option("delimiter"), job.option("decimal"), job.option("date_format")) == (
        ";",
        ",",
        "dmy",
    )

    page = owner.get(url("import_detail", job.code))
    assert page.status_code == 200
    rows = page.context["preview"]
    assert [r.record.line for r in rows] == [2, 4, 5]
    first = rows[0]
    assert first.customer == dora and first.record.total.to_eng_string() == "8.90"
    assert [(i.name, i.quantity, str(i.unit_price)) for i in first.record.items] == [
        ("Flat white", 2, "3.20"),
        ("Croissant", 1, "2.50"),
    ]
    assert rows[1].new_customer == "eve@example.com"
    assert [p.code for p in rows[2].record.problems] == ["not_date"]
    text = page.text
    assert "Flat white × 2 @ 3.20 = 6.40" in text and "existing" in text
    assert "line 5 · Date: “31.02.2024 10:00” is not a date in the format dmy" in text

    # Check the whole file: every bad line with its number; stop mode refuses to start.
    response = owner.post(url("import_detail", job.code), mapping_post(job, check="1"))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "checked" and (job.total_rows, job.bad_lines) == (4, 1)
    page = owner.get(url("import_detail", job.code))
    assert "Some lines are bad" in page.text and "5" in page.text
    assert [(p.line, p.field) for p in page.context["problems"]] == [(5, "date")]
    bad = owner.get(url("import_errors", job.code))
    assert bad.status_code == 200 and "31.02.2024" in b"".join(bad.streaming_content).decode()
    assert owner.post(url("import_start", job.code)).status_code == 302
    assert not Purchase.objects.exists()

    # Skip bad lines: check again, then import in the background.
    owner.post(url("import_detail", job.code), mapping_post(job, on_error="skip", check="1"))
    response = owner.post(url("import_start", job.code))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "done" and job.progress == 100 and job.processed_rows == 4
    assert job.started_at and job.finished_at and job.finished_at >= job.started_at
    assert job.result["purchases_created"] == 2 and job.result["skipped_rows"] == 1
    assert Purchase.objects.get(external_id="R1").customer == dora
    page = owner.get(url("import_detail", job.code))
    assert "Purchases added" in page.text
    skipped = owner.get(url("import_skipped", job.code))
    assert "31.02.2024" in b"".join(skipped.streaming_content).decode("utf-8-sig")


def test_changing_the_mapping_updates_the_preview_and_asks_for_a_new_check(owner, alice_cafe):
    upload(owner, SALES)
    job = ImportJob.objects.get()
    data = mapping_post(job)
    del data["map_item"]
    data["map_order_id"] = ""
    response = owner.post(url("import_detail", job.code), data)
    assert response.status_code == 302
    job.refresh_from_db()
    assert "item" not in job.mapping and "order_id" not in job.mapping
    rows = owner.get(url("import_detail", job.code)).context["preview"]
    assert len(rows) == 4 and rows[0].record.items[0].name == ""  # every row its own purchase

    taken = mapping_post(job, map_item="1")  # the date's column
    page = owner.post(url("import_detail", job.code), taken)
    assert page.status_code == 200
    assert "This column is already used for “Date”." in page.text


def test_another_layout_guesses_the_columns_again(owner, alice_cafe):
    text = "Name,Created at,Lineitem name,Lineitem quantity,Lineitem price,Total,Email\n#1,2024-03-01 09:00:00 +0100,Tea,1,3.00,3.00,d@example.com\n"
    upload(owner, text)
    job = ImportJob.objects.get()
    assert job.preset == "generic" and "order_id" not in job.mapping
    owner.post(url("import_detail", job.code), {"preset": "shopify-orders"})
    job.refresh_from_db()
    assert job.preset == "shopify-orders" and job.mapping["order_id"] == 0
    assert job.mapping["unit_price"] == 4 and job.option("date_format") == "iso"


def test_the_progress_box_polls_while_busy_and_reloads_the_page_when_done(
    owner, alice_cafe, tmp_path
):
    job = make_job(alice_cafe, write_csv(tmp_path, "date,amount\n2024-03-01,1.00\n"))
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", total_rows=200, processed_rows=50, progress=25
    )
    box = owner.get(url("import_progress", job.code), HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 1s"' in box.text and "50 of 200 rows" in box.text
    assert "HX-Refresh" not in box
    page = owner.get(url("import_detail", job.code))
    assert 'id="import-progress"' in page.text and 'http-equiv="refresh"' in page.text
    ImportJob.objects.filter(pk=job.pk).update(status="done", progress=100)
    box = owner.get(url("import_progress", job.code), HTTP_HX_REQUEST="true")
    assert box["HX-Refresh"] == "true" and "hx-trigger" not in box.text


def test_a_bad_upload_is_refused_with_the_field_named(owner):
    response = upload(owner, "", name="empty.csv")
    assert response.status_code == 200 and response.context["form"].errors == {
        "file": ["The submitted file is empty."]
    }
    assert not ImportJob.objects.exists()


def test_deleting_the_files_keeps_the_record(owner, alice_cafe):
    upload(owner, SALES)
    job = ImportJob.objects.get()
    path = Path(job.file.path)
    response = owner.post(url("import_delete_files", job.code))
    assert response.status_code == 302 and not path.exists()
    job.refresh_from_db()
    assert not job.file and job.filename == "sales.csv"


def test_uploaded_files_are_not_served(owner, alice_cafe, client):
    upload(owner, SALES)
    job = ImportJob.objects.get()
    for prefix in ("/media/", "/", "/static/"):
        assert client.get(f"{prefix}imports/alice-cafe/{job.code}.csv").status_code == 404


def test_charlies_imports_are_404_for_alice_and_the_cashier_is_refused(
    owner, client, alice_cafe, charlie_bakery, tmp_path, bob
):
    theirs = make_job(charlie_bakery, write_csv(tmp_path, "date,amount\n2024-03-01,999.00\n"))
    for name in ("import_detail", "import_progress", "import_start", "import_errors",
                 "import_skipped", "import_delete_files"):  # fmt: skip
        for method in ("get", "post"):
            response = getattr(owner, method)(url(name, theirs.code))
            assert response.status_code == 404, (name, method)
    theirs.refresh_from_db()
    assert theirs.status == "new" and Path(theirs.path).exists()
    client.force_login(bob)
    assert client.get(url("import_list")).status_code == 403
    assert client.get(url("export_csv", "customers")).status_code == 403
