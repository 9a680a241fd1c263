"""Owner pages for integrations: API keys and webhook endpoints with their delivery log.

Every change is a POST. Views that take a code look the object up in the current business
first (404 for anyone else's) and only then check the method.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from regulars.accounts import apikeys
from regulars.accounts.models import ApiKey, Role
from regulars.accounts.tenancy import business_view, get_for_business
from regulars.integrations import deliveries
from regulars.integrations.events import ALL_EVENTS
from regulars.integrations.forms import ApiKeyForm, WebhookEndpointForm
from regulars.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def _not_post(request: HttpRequest) -> bool:
    return request.method != "POST"


def _endpoint(request: HttpRequest, code: str) -> WebhookEndpoint:
    return get_for_business(WebhookEndpoint, request.business, code=code)


def _index(
    request: HttpRequest,
    key_form: ApiKeyForm | None = None,
    endpoint_form: WebhookEndpointForm | None = None,
) -> HttpResponse:
    business = request.business
    endpoints = list(WebhookEndpoint.objects.for_business(business))
    context = {
        "keys": ApiKey.objects.for_business(business).select_related("created_by"),
        "endpoints": endpoints,
        "switched_off": [e for e in endpoints if e.disabled_at],
        "key_form": key_form or ApiKeyForm(),
        "endpoint_form": endpoint_form or WebhookEndpointForm(),
        "all_events": ALL_EVENTS,
    }
    return render(request, "integrations/index.html", context)


@business_view(role=Role.OWNER)
def integrations(request: HttpRequest) -> HttpResponse:
    return _index(request)


@business_view(role=Role.OWNER)
def apikey_create(request: HttpRequest) -> HttpResponse:
    """Create a key and show it on this response only: it is stored hashed, never shown again."""
    if _not_post(request):
        return HttpResponseNotAllowed(["POST"])
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _index(request, key_form=form)
    key, token = apikeys.create_key(
        business=request.business,
        name=form.cleaned_data["name"],
        scope=form.cleaned_data["scope"],
        created_by=request.user,
    )
    response = render(request, "integrations/key_created.html", {"key": key, "token": token})
    response["Cache-Control"] = "no-store"
    return response


@business_view(role=Role.OWNER)
def apikey_revoke(request: HttpRequest, prefix: str) -> HttpResponse:
    key = get_for_business(ApiKey, request.business, prefix=prefix)
    if _not_post(request):
        return HttpResponseNotAllowed(["POST"])
    apikeys.revoke(key)
    messages.success(request, _("API key %(key)s revoked.") % {"key": key})
    return redirect("integrations", slug=request.business.slug)


@business_view(role=Role.OWNER)
def webhook_create(request: HttpRequest) -> HttpResponse:
    if _not_post(request):
        return HttpResponseNotAllowed(["POST"])
    form = WebhookEndpointForm(request.POST)
    if not form.is_valid():
        return _index(request, endpoint_form=form)
    endpoint = WebhookEndpoint.objects.create(
        business=request.business, url=form.cleaned_data["url"], events=form.cleaned_data["events"]
    )
    messages.success(
        request, _("Endpoint added. Put its signing secret into your receiver to check signatures.")
    )
    return redirect("webhook_detail", slug=request.business.slug, code=endpoint.code)


@business_view(role=Role.OWNER)
def webhook_detail(request: HttpRequest, code: str) -> HttpResponse:
    endpoint = _endpoint(request, code)
    log = endpoint.deliveries.prefetch_related(
        Prefetch("attempts_log", queryset=WebhookAttempt.objects.order_by("at", "pk"))
    )
    page = Paginator(log, 50).get_page(request.GET.get("page"))
    for delivery in page:
        delivery.pretty_payload = json.dumps(delivery.payload, indent=2, ensure_ascii=False)
    context = {"endpoint": endpoint, "page": page, "all_events": ALL_EVENTS}
    return render(request, "integrations/webhook_detail.html", context)


def _back(request: HttpRequest, endpoint: WebhookEndpoint) -> HttpResponse:
    return redirect("webhook_detail", slug=request.business.slug, code=endpoint.code)


@business_view(role=Role.OWNER)
def webhook_rotate(request: HttpRequest, code: str) -> HttpResponse:
    endpoint = _endpoint(request, code)
    if _not_post(request):
        return HttpResponseNotAllowed(["POST"])
    deliveries.rotate_secret(endpoint)
    messages.success(
        request, _("New signing secret created. Deliveries are signed with it from now on.")
    )
    return _back(request, endpoint)


@business_view(role=Role.OWNER)
def webhook_enable(request: HttpRequest, code: str) -> HttpResponse:
    endpoint = _endpoint(request, code)
    if _not_post(request):
        return HttpResponseNotAllowed(["POST"])
    deliveries.enable(endpoint)
    messages.success(
        request, _("Endpoint switched on again. Resend the deliveries it missed from its log.")
    )
    return _back(request, endpoint)


@business_view(role=Role.OWNER)
def webhook_delete(request: HttpRequest, code: str) -> HttpResponse:
    endpoint = _endpoint(request, code)
    if _not_post(request):
        return HttpResponseNotAllowed(["POST"])
    endpoint.delete()
    messages.success(request, _("Endpoint %(url)s deleted.") % {"url": endpoint.url})
    return redirect("integrations", slug=request.business.slug)


def _report(request: HttpRequest, logged: WebhookAttempt | None, delivery: WebhookDelivery):
    """Tell the owner how the attempt they asked for went."""
    if logged is None:
        messages.error(request, _("Nothing was sent: the endpoint is switched off."))
    elif logged.succeeded:
        messages.success(
            request,
            _("Delivered: HTTP %(status)s in %(ms)s ms.")
            % {"status": logged.status_code, "ms": logged.response_ms},
        )
    else:
        reason = logged.error or _("no response")
        if delivery.status == WebhookDelivery.Status.FAILED and delivery.next_attempt_at:
            text = _("The attempt failed (%(reason)s). It will be retried automatically.")
        else:
            text = _("The attempt failed (%(reason)s).")
        messages.error(request, text % {"reason": reason})


@business_view(role=Role.OWNER)
def webhook_test(request: HttpRequest, code: str) -> HttpResponse:
    endpoint = _endpoint(request, code)
    if _not_post(request):
        return HttpResponseNotAllowed(["POST"])
    if not endpoint.active:
        messages.error(request, _("Switch the endpoint on before sending to it."))
        return _back(request, endpoint)
    logged = deliveries.send_test(endpoint)
    _report(request, logged, logged.delivery if logged else None)
    return _back(request, endpoint)


@business_view(role=Role.OWNER)
def webhook_resend(request: HttpRequest, code: str, delivery: str) -> HttpResponse:
    endpoint = _endpoint(request, code)
    found = get_for_business(WebhookDelivery, request.business, endpoint=endpoint, code=delivery)
    if _not_post(request):
        return HttpResponseNotAllowed(["POST"])
    if not endpoint.active:
        messages.error(request, _("Switch the endpoint on before sending to it."))
        return _back(request, endpoint)
    logged = deliveries.resend(found)
    _report(request, logged, found)
    return _back(request, endpoint)
