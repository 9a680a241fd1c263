"""API keys are kept per process for a few seconds: a change made here is seen at once."""

import pytest
from django.utils import timezone

from regulars.accounts import apikeys
from regulars.accounts.apikeys import authenticate, create_key, revoke
from regulars.accounts.models import ApiKey

pytestmark = pytest.mark.django_db


def test_a_revoked_key_is_refused_at_once(alice_cafe):
    key, token = create_key(business=alice_cafe, name="POS", scope="write")
    assert authenticate(token).pk == key.pk
    revoke(key)
    assert authenticate(token) is None


def test_a_key_revoked_by_another_process_is_refused_once_the_cache_expires(
    alice_cafe, monkeypatch
):
    key, token = create_key(business=alice_cafe, name="POS", scope="write")
    assert authenticate(token) is not None
    # Another process: no signal reaches this one.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    later = apikeys.time.monotonic() + apikeys.KEY_CACHE_TTL_S + 1
    monkeypatch.setattr(apikeys.time, "monotonic", lambda: later)
    assert authenticate(token) is None


def test_a_wrong_secret_is_refused_even_when_the_key_is_cached(alice_cafe):
    key, token = create_key(business=alice_cafe, name="POS", scope="write")
    assert authenticate(token) is not None
    assert authenticate(token[:-2] + "xx") is None


def test_each_request_gets_its_own_copy_of_the_business(alice_cafe):
    _key, token = create_key(business=alice_cafe, name="POS", scope="write")
    first, second = authenticate(token), authenticate(token)
    assert first is not second and first.business is not second.business
    assert first.business.pk == second.business.pk == alice_cafe.pk


def test_a_renamed_business_is_seen_by_the_next_request(alice_cafe):
    _key, token = create_key(business=alice_cafe, name="POS", scope="write")
    assert authenticate(token).business.name == alice_cafe.name
    alice_cafe.name = "Alice's New Café"
    alice_cafe.save()
    assert authenticate(token).business.name == "Alice's New Café"
