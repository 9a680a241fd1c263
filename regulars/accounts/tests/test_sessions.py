"""Who is logged in: Django's database sessions and ModelBackend, read with plain SQL."""

from datetime import timedelta

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.sessions.models import Session
from django.utils import timezone

from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _home(client) -> int:
    return client.get("/b/alice-cafe/").status_code


def test_a_login_reads_back_through_the_plain_sql_session_and_user(client, alice, alice_cafe):
    assert _home(client) == 302  # to the login page
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session[BACKEND_SESSION_KEY] == "regulars.accounts.sessions.Backend"
    assert _home(client) == 200


def test_an_expired_session_or_an_inactive_user_is_logged_out(client, alice, alice_cafe):
    client.force_login(alice)
    assert _home(client) == 200
    alice.is_active = False
    alice.save()
    assert _home(client) == 302
    alice.is_active = True
    alice.save()
    client.force_login(alice)
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert _home(client) == 302


def test_an_unknown_session_key_is_nobody(client, alice, alice_cafe):
    client.cookies["sessionid"] = "x" * 32
    assert _home(client) == 302


def test_sessions_logged_in_through_modelbackend_keep_working(client, alice, alice_cafe):
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    assert _home(client) == 200
