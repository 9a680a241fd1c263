"""What every API router shares: key authentication, scopes, idempotency, cursors, errors."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Schema
from ninja.responses import NinjaJSONEncoder, Response
from ninja.security import HttpBearer
from pydantic import AfterValidator

from regulars.accounts import apikeys
from regulars.accounts.models import ApiKey, Business, IdempotentRequest
from regulars.lib.errors import Conflict, DomainError
from regulars.lib.rows import insert_rows


def _utc(value: datetime) -> datetime:
    """An instant with an offset as UTC: the database may not take every offset Python does
    (PostgreSQL stops at ±15:59). Naive times stay naive: they mean the server's time zone."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


# A date and time sent to the API, as UTC.
Instant = Annotated[datetime, AfterValidator(_utc)]


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


def as_json(body: Any) -> Any:
    """The body exactly as the API renders it (Decimal as string, ISO datetimes)."""
    return json.loads(json.dumps(body, cls=NinjaJSONEncoder))


@dataclass(frozen=True)
class Once:
    """An API write's Idempotency-Key: the answer stored for it, or to be stored with the write."""

    business: Business
    endpoint: str
    key: str
    digest: str  # of the request body: the same key with another body is a conflict

    @classmethod
    def of(cls, request: HttpRequest, *, endpoint: str, payload: Any) -> Once | None:
        """The request's Idempotency-Key, or None without the header."""
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if not key:
            return None
        if len(key) > 100:
            raise DomainError("Idempotency-Key", "must be at most 100 characters")
        body = json.dumps(payload, sort_keys=True, default=str).encode()
        return cls(request.auth.business, endpoint, key, hashlib.sha256(body).hexdigest())

    def record(self, status: int, body: Any) -> IdempotentRequest:
        """The row that stores this answer (not saved: it is written with the work it answers)."""
        return IdempotentRequest(
            business=self.business,
            endpoint=self.endpoint,
            key=self.key,
            request_hash=self.digest,
            status=status,
            body=body,
        )

    def replay(self) -> HttpResponse | None:
        """The stored answer, if any; the same key with a different body is a conflict (409)."""
        found = IdempotentRequest.objects.raw(_STORED_SQL, [self.business.pk, self.endpoint, self.key])
        found = next(iter(found), None)
        if found is None:
            return None
        if found.request_hash != self.digest:
            raise Conflict(
                "Idempotency-Key",
                "this key was already used with a different request body",
                code="idempotency_key_reused",
            )
        return Response(found.body, status=found.status)


def idempotent(
    request: HttpRequest, *, endpoint: str, payload: Any, run: Callable[[], tuple[int, Any]]
) -> HttpResponse:
    """Run a write once per Idempotency-Key: a retry gets the first response, another body a 409.

    `run` returns (status, a Schema or JSON-able body). Without the header the write simply runs.
    """
    once = Once.of(request, endpoint=endpoint, payload=payload)
    if once is None:
        status, body = run()
        return Response(as_json(body), status=status)
    if (replayed := once.replay()) is not None:
        return replayed
    try:
        with transaction.atomic():
            status, body = run()
            body = as_json(body)
            insert_rows([once.record(status, body)])
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it did.
        if (replayed := once.replay()) is None:
            raise
        return replayed
    return Response(body, status=status)


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
