"""API keys: created and revoked by an owner, presented as `Authorization: Bearer rg_…`."""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
import time
from datetime import timedelta

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from regulars.accounts.models import ApiKey, Business, User

# The last-used time is written at most this often, so a busy POS does not write on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    *, business: Business, name: str, scope: str = ApiKey.Scope.READ, created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Create a key and return it with its full text, which is never stored and never shown again."""
    if scope not in ApiKey.Scope.values:
        raise ValueError(f"scope: must be one of {', '.join(ApiKey.Scope.values)}")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        business=business,
        name=name.strip() or "API key",
        prefix=prefix,
        hashed=_hash(secret),
        scope=scope,
        created_by=created_by,
    )
    return key, f"rg_{prefix}_{secret}"


# Live keys by prefix, per process, for at most this long: a busy POS is not looked up on every
# call. A key revoked or changed in this process is dropped at once (signals below); revoked
# elsewhere (another worker, `regulars apikey revoke`) it stops working within the TTL.
KEY_CACHE_TTL_S = 5.0
_live: dict[str, tuple[float, ApiKey]] = {}


def _lookup(prefix: str) -> ApiKey | None:
    now = time.monotonic()
    hit = _live.get(prefix)
    if hit is not None and hit[0] > now:
        return hit[1]
    key = (
        ApiKey.objects.select_related("business")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if key is not None:
        _live[prefix] = (now + KEY_CACHE_TTL_S, key)
    return key


def forget_keys() -> None:
    """Empty the per-process cache of live keys (on any change of a key or a business)."""
    _live.clear()


@receiver(post_save, sender=ApiKey, dispatch_uid="accounts.apikey_saved")
@receiver(post_delete, sender=ApiKey, dispatch_uid="accounts.apikey_deleted")
@receiver(post_save, sender=Business, dispatch_uid="accounts.apikey_business_saved")
@receiver(post_delete, sender=Business, dispatch_uid="accounts.apikey_business_deleted")
def _key_changed(sender, **kwargs) -> None:
    forget_keys()
    transaction.on_commit(forget_keys)


def authenticate(token: str) -> ApiKey | None:
    """The live key for a presented token, or None. Compares hashes in constant time.

    Each call gets its own copy of the key and its business, so a request may change them.
    """
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "rg":
        return None
    cached = _lookup(parts[1])
    if cached is None or not hmac.compare_digest(cached.hashed, _hash(parts[2])):
        return None
    now = timezone.now()
    if cached.last_used_at is None or now - cached.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=cached.pk).update(last_used_at=now)
        cached.last_used_at = now
    key = copy.copy(cached)
    key.business = copy.copy(cached.business)
    return key


def revoke(key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
