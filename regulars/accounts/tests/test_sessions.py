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


def test_a_session_of_the_former_backend_is_asked_to_log_in_again(client, alice, alice_cafe):
    client.force_login(alice)
    session = client.session
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session.save()
    assert _home(client) == 302


def test_a_failed_login_checks_the_password_once(client, alice, alice_cafe, monkeypatch):
    from regulars.accounts.models import User

    checks = []
    check_password = User.check_password

    def counted(self, raw):
        checks.append(raw)
        return check_password(self, raw)

    monkeypatch.setattr(User, "check_password", counted)
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200  # the form again, with its error
    assert checks == ["wrong"]
