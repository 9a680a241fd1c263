"""REST API v1: one NinjaAPI that mounts each app's router and answers every failure alike.

OpenAPI 3 at /api/v1/openapi.json, interactive docs at /api/v1/docs. Errors always have the
shape {"code", "message", "field"} (regulars.accounts.api_support.ApiError).
"""

from collections import defaultdict

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseNotAllowed
from django.urls import URLPattern
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.throttling import AuthRateThrottle

from regulars.accounts.api_support import ApiKeyAuth
from regulars.analytics.api import router as analytics_router
from regulars.customers.api import router as customers_router
from regulars.lib.errors import DomainError
from regulars.loyalty.api import router as loyalty_router
from regulars.sales.api import router as sales_router


class RegularsAPI(NinjaAPI):
    """A NinjaAPI whose routers may share a path with different methods.

    Sales serves GET /purchases and loyalty (above it, so that a sale earns in the same
    transaction) serves POST /purchases. Django stops at the first URL pattern that matches and
    ninja answers 405 for a method that router lacks, so the patterns of one route are given one
    view that asks each router's view in turn. The OpenAPI schema already merges such paths.
    """

    def _get_urls(self):
        urls = super()._get_urls()
        by_route: dict[str, list[URLPattern]] = defaultdict(list)
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                by_route[str(pattern.pattern)].append(pattern)
        for patterns in by_route.values():
            if len(patterns) > 1:
                view = _first_allowed([p.callback for p in patterns])
                for pattern in patterns:  # each keeps its name, so reverse() still works
                    pattern.callback = view
        return urls


def _first_allowed(views):
    def view(request, *args, **kwargs):
        allowed: set[str] = set()
        for candidate in views:
            response = candidate(request, *args, **kwargs)
            if not isinstance(response, HttpResponseNotAllowed):
                return response
            allowed.update(m.strip() for m in response["Allow"].split(","))
        return HttpResponseNotAllowed(sorted(allowed), content=b"Method not allowed")

    view.csrf_exempt = True
    return view


api = RegularsAPI(
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
api.add_router("/", loyalty_router)
api.add_router("/", analytics_router)


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
