"""The `regulars` command says what is wrong in one line and exits non-zero: no traceback wall."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REGULARS = str(Path(sys.executable).with_name("regulars"))


def run(*args, tmp_path, **env):
    environ = {**os.environ, "REGULARS_VAR": str(tmp_path), **env}
    return subprocess.run(
        [REGULARS, *args], capture_output=True, text=True, env=environ, timeout=60
    )


def one_line_error(result):
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_unknown_database_scheme_is_one_line(tmp_path):
    result = run("check", tmp_path=tmp_path, DATABASE_URL="mysql2://nowhere/db")
    assert "DATABASE_URL" in one_line_error(result)


def test_unreachable_postgres_is_one_line(tmp_path):
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    result = run("serve", tmp_path=tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:1/nothing")
    message = one_line_error(result)
    assert "database unreachable" in message and "DATABASE_URL" in message


def test_serve_refuses_an_unmigrated_database(tmp_path):
    result = run("serve", tmp_path=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/empty.sqlite3")
    message = one_line_error(result)
    assert "not applied" in message and "regulars migrate" in message


def test_bad_email_url_is_one_line(tmp_path):
    result = run("check", tmp_path=tmp_path, EMAIL_URL="pigeon://coop")
    assert "EMAIL_URL" in one_line_error(result)


@pytest.mark.django_db
def test_createbusiness_creates_owner_and_refuses_bad_input(capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from regulars.accounts.models import Business, Membership

    call_command(
        "createbusiness", "corner-cafe", owner="zoe", password="s3cret-pass", currency="huf"
    )
    business = Business.objects.get(slug="corner-cafe")
    assert business.currency == "HUF" and business.name == "Corner Cafe"
    assert Membership.objects.get(business=business).role == "owner"
    with pytest.raises(CommandError, match="slug: a business"):
        call_command("createbusiness", "corner-cafe", owner="zoe")
    with pytest.raises(CommandError, match="currency"):
        call_command("createbusiness", "other", owner="zoe", currency="EURO")
    with pytest.raises(CommandError, match="slug"):
        call_command("createbusiness", "Bad Slug", owner="zoe")
    assert Business.objects.count() == 1


@pytest.mark.django_db
def test_apikey_create_prints_a_working_key_once(client, alice_cafe, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("apikey", "create", business="alice-cafe", scope="write", name="till 1")
    token = capsys.readouterr().out.strip()
    assert token.startswith("rg_")
    response = client.get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    call_command("apikey", "list", business="alice-cafe")
    listing = capsys.readouterr().out
    assert "write" in listing and "active" in listing and token not in listing
    call_command("apikey", "revoke", token.split("_")[1], business="alice-cafe")
    assert client.get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    with pytest.raises(CommandError, match="business"):
        call_command("apikey", "create", business="nope")
