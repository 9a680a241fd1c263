"""What every API router shares: key authentication, scopes, idempotency, cursors, errors."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Schema
from ninja.responses import NinjaJSONEncoder, Response
from ninja.security import HttpBearer

from regulars.accounts import apikeys
from regulars.accounts.models import ApiKey, Business, IdempotentRequest, insert_rows
from regulars.lib.errors import Conflict, DomainError


class ApiError(Schema):
    """The one error shape: a stable code, a human message and the field it is about (or null)."""

    code: str
    message: str
    field: str | None = None


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer rg_…` → request.auth is the ApiKey, request.business its business."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = apikeys.authenticate(token)
        if key is not None:
            request.business = key.business
        return key


def business_of(request: HttpRequest) -> Business:
    return request.auth.business


def require_write(request: HttpRequest) -> Business:
    """The business of a key allowed to write; a read-only key gets 403."""
    if request.auth.scope != ApiKey.Scope.WRITE:
        raise Forbidden("Authorization", "this API key is read-only")
    return request.auth.business


def _json(body: Any) -> Any:
    """The body exactly as the API renders it (Decimal as string, ISO datetimes)."""
    return json.loads(json.dumps(body, cls=NinjaJSONEncoder))


def idempotent(
    request: HttpRequest, *, endpoint: str, payload: Any, run: Callable[[], tuple[int, Any]]
) -> HttpResponse:
    """Run a write once per Idempotency-Key: a retry gets the first response, another body a 409.

    `run` returns (status, a Schema or JSON-able body). Without the header the write simply runs.
    """
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if not key:
        status, body = run()
        return Response(_json(body), status=status)
    if len(key) > 100:
        raise DomainError("Idempotency-Key", "must be at most 100 characters")
    business = request.auth.business
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def replay(found: IdempotentRequest) -> tuple[int, Any]:
        if found.request_hash != digest:
            raise Conflict(
                "Idempotency-Key",
                "this key was already used with a different request body",
                code="idempotency_key_reused",
            )
        return Response(found.body, status=found.status)

    if (found := _stored(business.pk, endpoint, key)) is not None:
        return replay(found)
    try:
        with transaction.atomic():
            status, body = run()
            body = _json(body)
            record = IdempotentRequest(
                business=business,
                endpoint=endpoint,
                key=key,
                request_hash=digest,
                status=status,
                body=body,
            )
            insert_rows([record])
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it did.
        found = _stored(business.pk, endpoint, key)
        if found is None:
            raise
        return replay(found)
    return Response(body, status=status)


def _stored(business_id: int, endpoint: str, key: str) -> IdempotentRequest | None:
    """The recorded answer for this key, if any. Plain SQL (`raw`): every write asks."""
    found = IdempotentRequest.objects.raw(_STORED_SQL, [business_id, endpoint, key])
    return next(iter(found), None)


_STORED_SQL = (
    f"SELECT * FROM {IdempotentRequest._meta.db_table} "
    f'WHERE business_id = %s AND endpoint = %s AND "key" = %s'
)


def request_key(request: HttpRequest, scope: str, *, fresh: bool = False) -> str | None:
    """The idempotency key a domain function gets for this request: `scope:` + Idempotency-Key.

    Without the header: None, or with `fresh` a new random key (for domain functions that
    require one: each call without the header is then a new operation). Kept within the 100
    characters domain keys allow: a long header is replaced by its hash.
    """
    header = (request.headers.get("Idempotency-Key") or "").strip()
    if not header:
        return f"{scope}:auto:{uuid.uuid4().hex}" if fresh else None
    key = f"{scope}:{header}"
    if len(key) > 100:
        key = f"{scope}:#{hashlib.sha256(header.encode()).hexdigest()}"
    return key


# The error responses every endpoint documents, in the one error shape (ApiError).
ERRORS = {status: ApiError for status in (400, 401, 403, 404, 409, 422, 429)}


CURSOR_SALT = "regulars.api.cursor"


def paginate(qs: QuerySet, *, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """Keyset pagination, newest first, with an opaque signed cursor (never a raw primary key)."""
    qs = qs.order_by("-pk")
    if cursor:
        try:
            last = signing.loads(cursor, salt=CURSOR_SALT)["after"]
        except (signing.BadSignature, KeyError, TypeError) as exc:
            raise DomainError("cursor", "is not a cursor this API gave out") from exc
        qs = qs.filter(pk__lt=last)
    items = list(qs[: limit + 1])
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = signing.dumps({"after": items[-1].pk}, salt=CURSOR_SALT)
    return items, next_cursor
