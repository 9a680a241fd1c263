"""API keys: created and revoked by an owner, presented as `Authorization: Bearer rg_…`."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

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


def authenticate(token: str) -> ApiKey | None:
    """The live key for a presented token, or None. Compares hashes in constant time."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "rg":
        return None
    key = (
        ApiKey.objects.select_related("business")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.hashed, _hash(parts[2])):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def revoke(key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
