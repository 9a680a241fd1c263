"""REST API v1: one NinjaAPI that mounts each app's router and answers every failure alike.

OpenAPI 3 at /api/v1/openapi.json, interactive docs at /api/v1/docs. Errors always have the
shape {"code", "message", "field"} (regulars.accounts.api_support.ApiError).
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.throttling import AuthRateThrottle

from regulars.accounts.api_support import ApiKeyAuth
from regulars.customers.api import router as customers_router
from regulars.lib.errors import DomainError
from regulars.sales.api import router as sales_router

api = NinjaAPI(
    title="Regulars API",
    version="1.0.0",
    description=(
        "Loyalty and CRM for small businesses. Authenticate with `Authorization: Bearer rg_…` "
        "(a key the owner creates). Writes accept an `Idempotency-Key` header: a retry with the "
        "same key returns the first result. Every error is `{code, message, field}`."
    ),
    urls_namespace="api-v1",
    auth=ApiKeyAuth(),
    throttle=[AuthRateThrottle(settings.API_RATE_LIMIT)],
)
api.add_router("/customers", customers_router, tags=["customers"])
api.add_router("/", sales_router, tags=["purchases"])


def _error(request: HttpRequest, status: int, code: str, message: str, field: str | None = None):
    return api.create_response(
        request, {"code": code, "message": message, "field": field}, status=status
    )


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    return _error(request, exc.status, exc.code, exc.message, exc.field)


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    first = exc.errors[0] if exc.errors else {}
    loc = [str(p) for p in first.get("loc", []) if p not in ("body", "query", "path", "header")]
    loc = [p for p in loc if p != "payload"]
    field = ".".join(loc) or None
    message = first.get("msg", "invalid request")
    if len(exc.errors) > 1:
        message += f" (and {len(exc.errors) - 1} more problem(s))"
    return _error(request, 422, "validation_error", message, field)


@api.exception_handler(AuthenticationError)
def authentication_error(request, exc):
    return _error(request, 401, "unauthorized", "missing or invalid API key", "Authorization")


@api.exception_handler(Throttled)
def throttled(request, exc: Throttled):
    return _error(request, 429, "rate_limited", "too many requests for this API key; retry later")


@api.exception_handler(Http404)
def not_found(request, exc):
    return _error(request, 404, "not_found", "no such object in this business")


@api.exception_handler(PermissionDenied)
def forbidden(request, exc):
    return _error(request, 403, "forbidden", str(exc) or "not allowed")


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    return _error(request, exc.status_code, "error", str(exc))
