"""Customer-facing pages: join a business's program, and see your card. No login: the join page
is found by the business's join code, the card by the customer's card token, both unguessable,
so nothing of one business (or one customer) is reachable from another's link.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from regulars.accounts.models import Business
from regulars.customers.models import Customer
from regulars.customers.records import CustomerInput
from regulars.lib.errors import DomainError
from regulars.lib.qr import qr_svg
from regulars.loyalty.card import balances, recent_activity
from regulars.loyalty.enrolment import enrol
from regulars.portal.forms import JoinForm
from regulars.portal.throttle import allow

# Joins per client address per window: enough for a family at one phone, too few for a script.
JOIN_LIMIT = 10
JOIN_WINDOW = 600  # seconds

# The cards this browser joined or opened, so that joining again from it finds the card.
CARDS_COOKIE = "regulars_cards"
CARDS_SALT = "regulars.portal.cards"
CARDS_KEPT = 10
CARDS_MAX_AGE = 2 * 365 * 24 * 3600
LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def _cards_here(request: HttpRequest) -> list[str]:
    raw = request.get_signed_cookie(CARDS_COOKIE, default="", salt=CARDS_SALT)
    return [token for token in raw.split(",") if token]


def _remember(request: HttpRequest, response: HttpResponse, customer: Customer) -> None:
    tokens = [customer.card_token] + [t for t in _cards_here(request) if t != customer.card_token]
    response.set_signed_cookie(
        CARDS_COOKIE,
        ",".join(tokens[:CARDS_KEPT]),
        salt=CARDS_SALT,
        max_age=CARDS_MAX_AGE,
        path="/c/",
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def join(request: HttpRequest, join_code: str) -> HttpResponse:
    """The page behind the poster's QR code: become a member in a minute.

    Joining again with the same phone or e-mail finds the existing member and never makes a
    second one. Their card opens only in the browser that joined or opened it before: anyone can
    type someone else's phone number, and the card carries the code that spends their points,
    so a stranger is told the number is taken and where to find the card, not shown it.
    """
    business = get_object_or_404(Business, join_code=join_code)
    context = {"shop": business, "language_action": reverse("set_language")}
    if request.method == "POST":
        if not allow(request, scope="join", limit=JOIN_LIMIT, window=JOIN_WINDOW):
            return render(request, "portal/too_many.html", context, status=429)
        form = JoinForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                result = enrol(
                    business=business,
                    data=CustomerInput(
                        name=data["name"],
                        phone=data["phone"],
                        email=data["email"],
                        birthday=data["birthday"],
                        language=data["language"],
                        marketing_consent=data["marketing_consent"],
                    ),
                )
            except DomainError as exc:
                if exc.field == "phone":
                    form.add_error("phone", _("Enter a phone number with 6 to 15 digits."))
                else:
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                customer = result.customer
                if result.created or customer.card_token in _cards_here(request):
                    url = reverse("portal_card", args=[customer.card_token])
                    response = redirect(url + "?welcome=1" if result.created else url)
                    _remember(request, response, customer)
                    return response
                return render(request, "portal/member_already.html", context)
    elif request.method == "GET":
        form = JoinForm(initial={"language": translation.get_language()})
    else:
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(request, "portal/join.html", {**context, "form": form})


@never_cache
def card(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's card: the QR code the cashier scans, balances, progress, rewards, vouchers
    and recent activity, in the customer's language. Never cached: it changes with each sale."""
    customer = get_object_or_404(Customer.objects.select_related("business"), card_token=token)
    business = customer.business
    language = customer.language or business.language or settings.LANGUAGE_CODE
    with translation.override(language), timezone.override(business.timezone):
        context = {
            "shop": business,
            "customer": customer,
            # The whole name: which part is the given name differs by language (Kiss Hanna).
            "name": customer.name,
            "card": balances(customer),
            "activity": recent_activity(customer, limit=10),
            "qr": qr_svg(customer.card_code, title=_("Your card code")),
            "welcome": request.GET.get("welcome") == "1",
            "language_action": reverse("portal_card_language", args=[token]),
        }
        response = render(request, "portal/card.html", context)
        response["Content-Language"] = language
    _remember(request, response, customer)
    return response


def card_language(request: HttpRequest, token: str) -> HttpResponse:
    """Switch the card (and the customer's messages later) to another language."""
    customer = get_object_or_404(Customer, card_token=token)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    language = request.POST.get("language", "")
    if language in LANGUAGE_CODES and language != customer.language:
        customer.language = language
        customer.save(update_fields=["language"])
    return redirect("portal_card", token=token)
