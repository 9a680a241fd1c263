"""Owner pages for integrations: API keys, webhooks, imports, exports and a customer's data.

Every change is a POST. Views that take a code look the object up in the current business
first (404 for anyone else's) and only then check the method.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from regulars.accounts import apikeys
from regulars.accounts.models import ApiKey, Role
from regulars.accounts.tenancy import business_view, get_for_business
from regulars.customers.models import Customer
from regulars.integrations import deliveries, exports, privacy, tasks
from regulars.integrations.events import ALL_EVENTS
from regulars.integrations.forms import (
    DATE_CHOICES,
    ApiKeyForm,
    EraseForm,
    ExportForm,
    ImportMappingForm,
    ImportUploadForm,
    WebhookEndpointForm,
)
from regulars.integrations.imports import jobs as imports
from regulars.integrations.imports.presets import PRESETS, preset_choices
from regulars.integrations.imports.problems import Problem
from regulars.integrations.models import (
    ImportJob,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


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
        "imports": ImportJob.objects.for_business(business)[:5],
        "exports": exports.EXPORTS.values(),
        "export_form": ExportForm(),
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


# --- import -------------------------------------------------------------------------------


def _job(request: HttpRequest, code: str) -> ImportJob:
    return get_for_business(ImportJob, request.business, code=code)


def _imports_page(request: HttpRequest, form: ImportUploadForm | None = None) -> HttpResponse:
    jobs = ImportJob.objects.for_business(request.business).select_related("created_by")
    context = {
        "form": form or ImportUploadForm(),
        "page": Paginator(jobs, 25).get_page(request.GET.get("page")),
        "presets": PRESETS.values(),
    }
    return render(request, "integrations/imports/list.html", context)


@business_view(role=Role.OWNER)
def import_list(request: HttpRequest) -> HttpResponse:
    """Past imports, and the form to upload a new file (step 1)."""
    if request.method != "POST":
        return _imports_page(request)
    form = ImportUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _imports_page(request, form)
    upload = form.cleaned_data["file"]
    job = ImportJob(
        business=request.business,
        created_by=request.user,
        filename=upload.name[:255],
        size=upload.size,
        preset=form.cleaned_data["preset"],
    )
    job.file.save("upload.csv", upload, save=False)
    job.save()
    imports.configure(
        job,
        options={
            "encoding": form.cleaned_data["encoding"],
            "delimiter": form.cleaned_data["delimiter"],
        },
    )
    return redirect("import_detail", slug=request.business.slug, code=job.code)


def _detail(request: HttpRequest, job: ImportJob, form: ImportMappingForm | None = None):
    context = {"job": job, "can_start": ""}
    editable = job.status in (ImportJob.Status.NEW, ImportJob.Status.CHECKED)
    if editable and job.path:
        context["form"] = form or ImportMappingForm(job=job)
        context["preview"] = imports.preview(job)
        context["date_choices"] = DATE_CHOICES
    if job.status == ImportJob.Status.CHECKED:
        context["can_start"] = imports.can_start(job)
        context["problems"] = [Problem.from_dict(p) for p in job.errors]
    if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
        context["problems"] = [Problem.from_dict(p) for p in job.errors]
    context["presets"] = preset_choices(job.kind)
    return render(request, "integrations/imports/detail.html", context)


@business_view(role=Role.OWNER)
def import_detail(request: HttpRequest, code: str) -> HttpResponse:
    """Steps 2 and 3: map the columns with a live preview, then check the whole file.

    POST saves the mapping and options; with `check` it also starts the check (a task), with
    `preset` it guesses the mapping again from another preset.
    """
    job = _job(request, code)
    if request.method != "POST":
        return _detail(request, job)
    if job.busy or job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
        messages.error(request, _("This import can no longer be changed."))
        return redirect("import_detail", slug=request.business.slug, code=job.code)
    if "preset" in request.POST:
        preset = request.POST["preset"]
        if preset in PRESETS and PRESETS[preset].kind == job.kind:
            reading = {k: job.option(k) for k in ("encoding", "delimiter")}
            imports.configure(job, preset=preset, options=reading, mapping=None)
            job.status = ImportJob.Status.NEW
            job.save(update_fields=["status"])
        return redirect("import_detail", slug=request.business.slug, code=job.code)
    form = ImportMappingForm(request.POST, job=job)
    if not form.is_valid():
        return _detail(request, job, form)
    reread = form.options["encoding"] != job.option("encoding") or form.options[
        "delimiter"
    ] != job.option("delimiter")
    imports.configure(job, options=form.options, mapping=None if reread else form.mapping)
    if job.status == ImportJob.Status.CHECKED:
        job.status = ImportJob.Status.NEW  # what was checked is not what is set now
        job.save(update_fields=["status"])
    if reread:
        messages.info(
            request, _("The file was read again with the new settings; check the column mapping.")
        )
    elif "check" in request.POST:
        try:
            imports.start_check(job)
        except imports.ImportRefused as exc:
            messages.error(request, str(exc))
        else:
            tasks.enqueue_import_step(job.pk, tasks.check_import)
    return redirect("import_detail", slug=request.business.slug, code=job.code)


@business_view(role=Role.OWNER)
def import_progress(request: HttpRequest, code: str) -> HttpResponse:
    """The progress box the page polls (htmx); reloads the page once the step is over."""
    job = _job(request, code)
    response = render(request, "integrations/imports/_progress.html", {"job": job})
    if not job.busy and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


@business_view(role=Role.OWNER)
def import_start(request: HttpRequest, code: str) -> HttpResponse:
    """Step 4: import the checked file in the background."""
    job = _job(request, code)
    if _not_post(request):
        return HttpResponseNotAllowed(["POST"])
    try:
        imports.queue(job)
    except imports.ImportRefused as exc:
        messages.error(request, str(exc))
    else:
        tasks.enqueue_import_step(job.pk, tasks.run_import)
    return redirect("import_detail", slug=request.business.slug, code=job.code)


def _stored_csv(stored, name: str) -> HttpResponse:
    if not stored:
        raise Http404("No such report")
    try:
        handle = stored.open("rb")
    except FileNotFoundError as exc:
        raise Http404("No such report") from exc
    return FileResponse(handle, as_attachment=True, filename=name, content_type="text/csv")


@business_view(role=Role.OWNER)
def import_errors(request: HttpRequest, code: str) -> HttpResponse:
    """Every bad line the check found, with its number, column and reason."""
    job = _job(request, code)
    return _stored_csv(job.error_file, f"{job.code}-bad-lines.csv")


@business_view(role=Role.OWNER)
def import_skipped(request: HttpRequest, code: str) -> HttpResponse:
    """Every line the import left out, and why."""
    job = _job(request, code)
    return _stored_csv(job.report_file, f"{job.code}-skipped.csv")


@business_view(role=Role.OWNER)
def import_delete_files(request: HttpRequest, code: str) -> HttpResponse:
    """Delete the uploaded file and its reports (they hold customers' data); keep the record."""
    job = _job(request, code)
    if _not_post(request):
        return HttpResponseNotAllowed(["POST"])
    if job.busy:
        messages.error(request, _("Wait until the import has finished."))
    else:
        imports.delete_files(job)
        messages.success(request, _("The uploaded file and its reports were deleted."))
    return redirect("import_list", slug=request.business.slug)


# --- export -------------------------------------------------------------------------------


@business_view(role=Role.OWNER)
def export_csv(request: HttpRequest, kind: str) -> HttpResponse:
    """One export as CSV, streamed row by row (see `exports`)."""
    if kind not in exports.EXPORTS:
        raise Http404("No such export")
    form = ExportForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(" ".join(str(e) for e in form.errors.values()))
    since, until = form.cleaned_data["since"], form.cleaned_data["until"]
    body = exports.stream(kind, request.business, since=since, until=until)
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
    name = exports.filename(kind, request.business, since, until)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


# --- a customer's data --------------------------------------------------------------------


def _customer(request: HttpRequest, code: str) -> Customer:
    return get_for_business(Customer, request.business, code=code)


@business_view(role=Role.OWNER)
def customer_data(request: HttpRequest, code: str) -> HttpResponse:
    """Everything held on one customer, as a JSON download (their right to their data)."""
    customer = _customer(request, code)
    response = HttpResponse(
        privacy.customer_data_json(customer), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="customer-{customer.code}.json"'
    response["Cache-Control"] = "no-store"
    return response


@business_view(role=Role.OWNER)
def customer_erase(request: HttpRequest, code: str) -> HttpResponse:
    """Erase a customer's personal data after the owner types their name; logged."""
    customer = _customer(request, code)
    erased = privacy.erased_at(customer)
    form = EraseForm(request.POST or None, customer=customer)
    if request.method == "POST" and erased is None and form.is_valid():
        privacy.erase_customer(customer=customer, staff=request.user)
        messages.success(
            request,
            _(
                "The customer's personal data was erased. Their purchases and points stay in your totals."
            ),
        )
        return redirect("customer_detail", slug=request.business.slug, code=customer.code)
    context = {"customer": customer, "form": form, "erased": erased}
    return render(request, "integrations/erase.html", context)
