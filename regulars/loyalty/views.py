"""The counter (the cashier's page), the join poster, and the owner's pages for programs and
rewards: thin views over loyalty's domain functions and models.

Every page works as plain forms; with htmx (an HX-Request header) a view answers with just the
part of the page that changed. A write is a POST carrying the idempotency key its form was
rendered with; a plain POST answers with a redirect (so a reload cannot post again, and if it
does, the key makes it the same operation), an htmx POST with the updated panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from regulars.accounts.models import Location, Role
from regulars.accounts.templatetags.regulars import localdate
from regulars.accounts.tenancy import business_view, get_for_business
from regulars.customers.models import Customer
from regulars.customers.records import CustomerInput
from regulars.lib.codes import normalise_code
from regulars.lib.errors import DomainError
from regulars.lib.money import format_money
from regulars.lib.phone import normalise_phone
from regulars.lib.qr import qr_svg
from regulars.lib.rows import columns, from_rows, read_all
from regulars.loyalty.card import balances
from regulars.loyalty.counter import find_customers, is_sale, quick_products, undo_action
from regulars.loyalty.enrolment import enrol
from regulars.loyalty.errors import LoyaltyConflict
from regulars.loyalty.forms import (
    CONFIG_EXAMPLES,
    KIND_HELP,
    CreditForm,
    EnrolForm,
    ProgramForm,
    RedeemForm,
    RewardForm,
    SaleForm,
    UndoForm,
    UseForm,
    new_key,
)
from regulars.loyalty.ledger import UNDO_WINDOW, last_undoable, redeem, spend_credit
from regulars.loyalty.models import (
    Account,
    LedgerEntry,
    Program,
    PromoCard,
    Reward,
    Unit,
    Voucher,
    from_units,
)
from regulars.loyalty.programs import kind_class
from regulars.loyalty.sale import record_sale
from regulars.loyalty.templatetags.loyalty import amount_text
from regulars.loyalty.vouchers import use_promo_card, use_voucher

LOCATION_SESSION_KEY = "counter-location:%s"


@dataclass
class Outcome:
    """What the last action did, in plain words, shown above the customer's panel."""

    tone: str  # "ok" or "error"
    title: str
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return " · ".join([self.title, *self.lines])


def _htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _customer(request: HttpRequest, code: str) -> Customer:
    return get_for_business(Customer, request.business, code=code)


def _locations(business) -> list[Location]:
    """The business's locations by name (plain SQL: every scan at the counter reads them)."""
    [rows] = read_all([(_LOCATIONS_SQL, [business.pk])])
    return from_rows(Location, rows)


_LOCATIONS_SQL = (
    f"SELECT {columns(Location)} FROM {Location._meta.db_table} "
    "WHERE business_id = %s ORDER BY name, id"
)


def _location(
    request: HttpRequest, chosen: str = "", locations: list[Location] | None = None
) -> Location | None:
    """The location the counter stands in: the one chosen on the sale form (remembered in the
    session), or the business's only or first one. `locations`: the business's, when read."""
    key = LOCATION_SESSION_KEY % request.business.slug
    code = chosen or request.session.get(key, "")
    if locations is None:
        locations = _locations(request.business)
    found = next((loc for loc in locations if loc.code == code), None)
    if found is not None and chosen:
        request.session[key] = found.code
    return found or (locations[0] if locations else None)


def _errors(form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _panel(
    request: HttpRequest,
    customer: Customer,
    *,
    outcome: Outcome | None = None,
    sale_form: SaleForm | None = None,
    show_card_link: bool = False,
    status: int = 200,
) -> HttpResponse:
    """The customer's panel: balances, the sale form, rewards, vouchers and the undo bar."""
    business = request.business
    card = balances(customer)
    last = last_undoable(customer=customer)
    locations = _locations(business)
    context = {
        "customer": customer,
        "card": card,
        "rewards": [(option, new_key()) for option in card.rewards],
        "vouchers": [(v, new_key()) for v in card.vouchers],
        "promo_cards": [(p, new_key()) for p in card.promo_cards],
        "credit_key": new_key(),
        "sale_form": sale_form or SaleForm(business=business),
        "quick": quick_products(business),
        "locations": locations if len(locations) > 1 else [],
        "location": _location(request, locations=locations) if len(locations) > 1 else None,
        "last": last,
        "last_text": _describe_action(last, business.currency) if last else "",
        "undo_key": new_key(),
        "undo_minutes": int(UNDO_WINDOW.total_seconds() // 60),
        "outcome": outcome,
        "card_link": _card_link(customer) if show_card_link else None,
        "focus": "lookup" if outcome is not None and outcome.tone == "ok" else "amount",
    }
    template = "loyalty/_panel.html" if _htmx(request) else "loyalty/counter.html"
    response = render(request, template, {**context, "inner": "panel"}, status=status)
    if _htmx(request):
        response["HX-Push-Url"] = reverse("counter_panel", args=[business.slug, customer.code])
    return response


def _done(request: HttpRequest, customer: Customer, outcome: Outcome, **panel) -> HttpResponse:
    """Answer a successful write: the panel for htmx, a redirect (with a message) otherwise."""
    if _htmx(request):
        return _panel(request, customer, outcome=outcome, **panel)
    messages.success(request, outcome.text())
    url = reverse("counter_panel", args=[request.business.slug, customer.code])
    if panel.get("show_card_link"):
        url += "?card=1"
    return redirect(url)


_OPERATION_AMOUNTS_SQL = (
    f"SELECT e.amount, a.unit FROM {LedgerEntry._meta.db_table} e "
    f"JOIN {Account._meta.db_table} a ON a.id = e.account_id "
    "WHERE e.business_id = %s AND e.operation = %s ORDER BY e.id"
)


def _card_link(customer: Customer) -> dict:
    url = settings.SITE_URL + reverse("portal_card", args=[customer.card_token])
    return {"url": url, "qr": qr_svg(url, title=_("Your loyalty card"))}


def _describe_action(entry: LedgerEntry, currency: str) -> str:
    """The counter's last action in a few words, for its Undo button."""
    # Plain SQL: the panel shows this on the scan after every sale.
    [entries] = read_all([(_OPERATION_AMOUNTS_SQL, [entry.business_id, entry.operation])])
    amounts = ", ".join(
        amount_text(abs(from_units(unit, amount)), unit, currency)
        for amount, unit in entries
        if amount
    )
    if is_sale(entry):
        return _("Sale (%(amounts)s)") % {"amounts": amounts}
    if entry.kind == LedgerEntry.Kind.REDEEM:
        return _("Redeemed %(reward)s (%(amounts)s)") % {
            "reward": entry.reason,
            "amounts": amounts,
        }
    return _("%(reason)s (%(amounts)s)") % {"reason": entry.reason, "amounts": amounts}


def _start(
    request: HttpRequest,
    *,
    q: str = "",
    results: list[Customer] | None = None,
    enrol_form: EnrolForm | None = None,
    outcome: Outcome | None = None,
    status: int = 200,
) -> HttpResponse:
    """No customer chosen yet: the search results, or the enrol form (prefilled from what was
    typed when nobody matched)."""
    if enrol_form is None:
        enrol_form = EnrolForm(initial=_guess_contact(q) if q and not results else None)
    context = {
        "q": q,
        "results": results or [],
        "enrol_form": enrol_form,
        "outcome": outcome,
        "inner": "results" if results else "start",
    }
    template = (
        ("loyalty/_results.html" if results else "loyalty/_start.html")
        if _htmx(request)
        else "loyalty/counter.html"
    )
    return render(request, template, context, status=status)


def _guess_contact(term: str) -> dict:
    """Put what the cashier typed into the enrol field it belongs to."""
    term = term.strip()
    if "@" in term:
        return {"email": term}
    if len(normalise_phone(term).lstrip("+")) >= 6 and not any(c.isalpha() for c in term):
        return {"phone": term}
    if len(normalise_code(term)) >= 8 and " " not in term and any(c.isdigit() for c in term):
        return {}  # an unknown card code: no one's name
    return {"name": term}


# --- pages ----------------------------------------------------------------------------------


@business_view()
def counter(request: HttpRequest) -> HttpResponse:
    """The one field: scan a card, or type a phone, an e-mail or a name."""
    q = request.GET.get("q", "").strip()[:200]
    if not q:
        return _start(request)
    found = find_customers(request.business, q)
    if len(found) == 1:
        if _htmx(request):
            return _panel(request, found[0])
        return redirect("counter_panel", slug=request.business.slug, code=found[0].code)
    if not found:
        outcome = Outcome("error", _("No one found for “%(q)s”.") % {"q": q})
        return _start(request, q=q, outcome=outcome)
    return _start(request, q=q, results=found)


@business_view()
def counter_panel(request: HttpRequest, code: str) -> HttpResponse:
    customer = _customer(request, code)
    return _panel(request, customer, show_card_link=request.GET.get("card") == "1")


@business_view()
def counter_sale(request: HttpRequest, code: str) -> HttpResponse:
    customer = _customer(request, code)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    business = request.business
    form = SaleForm(request.POST, business=business)
    if not form.is_valid():
        outcome = Outcome(
            "error", _("Could not record the sale: %(reason)s") % {"reason": _errors(form)}
        )
        return _panel(request, customer, outcome=outcome, sale_form=form, status=422)
    try:
        sale = record_sale(
            business=business,
            customer=customer,
            lines=form.cleaned_data["lines"],
            location=_location(request, request.POST.get("location", "")),
            cashier=request.user,
            idempotency_key=form.scoped_key("sale"),
        )
    except DomainError as exc:
        outcome = Outcome(
            "error", _("Could not record the sale: %(reason)s") % {"reason": exc.message}
        )
        return _panel(request, customer, outcome=outcome, sale_form=form, status=422)
    currency = business.currency
    title = _("Recorded %(amount)s") % {"amount": format_money(sale.purchase.total, currency)}
    if not sale.created:
        title = _("Already recorded: %(amount)s") % {
            "amount": format_money(sale.purchase.total, currency)
        }
    lines = []
    for earned in sale.accrual.earned:
        text = _("Earned %(amount)s") % {"amount": amount_text(earned.value, earned.unit, currency)}
        if earned.pending:
            text += " " + _("(can be spent after the return window)")
        lines.append(text)
    if not lines and sale.created:
        lines.append(_("Nothing earned on this purchase."))
    for change in sale.accrual.tier_changes:
        if change.upgraded:
            tier = change.program.rules.tier(change.new)
            lines.append(_("Upgraded to %(tier)s!") % {"tier": tier.name if tier else change.new})
    return _done(request, customer, Outcome("ok", title, lines))


@business_view()
def counter_redeem(request: HttpRequest, code: str) -> HttpResponse:
    customer = _customer(request, code)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = RedeemForm(request.POST)
    reward = None
    if form.is_valid():
        reward = (
            Reward.objects.for_business(request.business)
            .filter(code=form.cleaned_data["reward"])
            .select_related("program")
            .first()
        )
    if reward is None:
        reason = _errors(form) if form.errors else _("This reward is not available.")
        outcome = Outcome("error", _("Could not redeem: %(reason)s") % {"reason": reason})
        return _panel(request, customer, outcome=outcome, status=422)
    try:
        voucher = redeem(
            customer=customer,
            reward=reward,
            idempotency_key=form.scoped_key("redeem"),
            staff=request.user,
            location=_location(request),
        )
    except DomainError as exc:
        outcome = Outcome(
            "error",
            _("Could not redeem %(reward)s: %(reason)s")
            % {"reward": reward.name, "reason": exc.message},
        )
        return _panel(request, customer, outcome=outcome, status=422)
    outcome = Outcome(
        "ok",
        _("Redeemed: %(reward)s") % {"reward": reward.name},
        [
            _("Voucher %(code)s, valid until %(date)s")
            % {"code": voucher.code, "date": localdate(voucher.valid_until)}
        ],
    )
    return _done(request, customer, outcome)


@business_view()
def counter_credit(request: HttpRequest, code: str) -> HttpResponse:
    """Pay part of the purchase with the customer's store credit (never more than available)."""
    customer = _customer(request, code)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = CreditForm(request.POST)
    program = None
    if form.is_valid():
        program = Program.objects.running_for(request.business).filter(
            code=form.cleaned_data["program"]
        ).first()
    if program is None:
        reason = _errors(form) if form.errors else _("not found")
        outcome = Outcome("error", _("Could not pay with credit: %(reason)s") % {"reason": reason})
        return _panel(request, customer, outcome=outcome, status=422)
    try:
        spend_credit(
            customer=customer,
            program=program,
            amount=form.cleaned_data["amount"],
            idempotency_key=form.scoped_key("credit"),
            staff=request.user,
            location=_location(request),
        )
    except DomainError as exc:
        outcome = Outcome("error", _("Could not pay with credit: %(reason)s") % {"reason": exc.message})
        return _panel(request, customer, outcome=outcome, status=422)
    amount = format_money(form.cleaned_data["amount"], request.business.currency)
    return _done(request, customer, Outcome("ok", _("Paid with credit: %(amount)s") % {"amount": amount}))


@business_view()
def counter_use(request: HttpRequest, code: str) -> HttpResponse:
    """Mark one of the customer's vouchers or promo cards used."""
    customer = _customer(request, code)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = UseForm(request.POST)
    if not form.is_valid():
        outcome = Outcome("error", _("Could not use it: %(reason)s") % {"reason": _errors(form)})
        return _panel(request, customer, outcome=outcome, status=422)
    model, use = (
        (Voucher, use_voucher) if form.cleaned_data["voucher"] else (PromoCard, use_promo_card)
    )
    item_code = normalise_code(form.cleaned_data["voucher"] or form.cleaned_data["promo_card"])
    item = model.objects.filter(
        business=request.business, customer=customer, code=item_code
    ).first()
    if item is None:
        outcome = Outcome("error", _("Could not use it: %(reason)s") % {"reason": _("not found")})
        return _panel(request, customer, outcome=outcome, status=422)
    try:
        item = use(business=request.business, code=item.code, staff=request.user)
    except LoyaltyConflict as exc:
        # A double click: the first click used it. Uses carry no key, so the one who used it,
        # moments ago, stands in for the key here.
        item.refresh_from_db()
        if not (item.used_by_id == request.user.pk and item.used_at and _recent(item.used_at)):
            return _panel(request, customer, outcome=_refused(item, exc), status=422)
    except DomainError as exc:
        return _panel(request, customer, outcome=_refused(item, exc), status=422)
    name = item.name if model is Voucher else _("Promo card %(code)s") % {"code": item.code}
    return _done(request, customer, Outcome("ok", _("Used: %(name)s") % {"name": name}))


def _refused(item, exc: DomainError) -> Outcome:
    return Outcome(
        "error",
        _("Could not use %(code)s: %(reason)s") % {"code": item.code, "reason": exc.message},
    )


def _recent(when) -> bool:
    return timezone.now() - when < UNDO_WINDOW


@business_view()
def counter_undo(request: HttpRequest, code: str) -> HttpResponse:
    customer = _customer(request, code)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = UndoForm(request.POST)
    entry = None
    if form.is_valid():
        entry = (
            LedgerEntry.objects.filter(
                business=request.business,
                account__customer=customer,
                code=form.cleaned_data["entry"],
            )
            .select_related("account__program")
            .first()
        )
    if entry is None:
        outcome = Outcome(
            "error",
            _("Could not undo: %(reason)s")
            % {"reason": _errors(form) if form.errors else _("there is nothing to undo.")},
        )
        return _panel(request, customer, outcome=outcome, status=422)
    try:
        undone = undo_action(
            entry=entry, staff=request.user, idempotency_key=form.scoped_key("undo")
        )
    except DomainError as exc:
        outcome = Outcome("error", _("Could not undo: %(reason)s") % {"reason": exc.message})
        return _panel(request, customer, outcome=outcome, status=422)
    currency = request.business.currency
    if undone.purchase is not None:
        title = _("Undone: the sale of %(amount)s was refunded") % {
            "amount": format_money(undone.refund.amount, currency)
        }
    else:
        title = _("Undone")
    lines = [
        _("%(amount)s back") % {"amount": amount_text(e.value, e.account.unit, currency)}
        if e.amount > 0
        else _("%(amount)s taken back")
        % {"amount": amount_text(-e.value, e.account.unit, currency)}
        for e in undone.entries
        if e.amount
    ]
    return _done(request, customer, Outcome("ok", title, lines))


@business_view()
def counter_enrol(request: HttpRequest) -> HttpResponse:
    """A new member at the counter: name, phone or e-mail, consent; then straight to their card."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = EnrolForm(request.POST)
    if not form.is_valid():
        outcome = Outcome("error", _("Could not enrol: %(reason)s") % {"reason": _errors(form)})
        return _start(request, enrol_form=form, outcome=outcome, status=422)
    data = form.cleaned_data
    try:
        result = enrol(
            business=request.business,
            data=CustomerInput(
                name=data["name"],
                phone=data["phone"],
                email=data["email"],
                marketing_consent=data["marketing_consent"],
            ),
            staff=request.user,
            location=_location(request),
        )
    except DomainError as exc:
        outcome = Outcome("error", _("Could not enrol: %(reason)s") % {"reason": exc.message})
        return _start(request, enrol_form=form, outcome=outcome, status=422)
    customer = result.customer
    if result.created:
        outcome = Outcome("ok", _("Welcome, %(name)s!") % {"name": customer.name})
        outcome.lines += [
            _("Joining bonus: %(amount)s")
            % {"amount": amount_text(e.value, e.account.unit, request.business.currency)}
            for e in result.bonus
        ]
    else:
        outcome = Outcome("ok", _("%(name)s is a member already.") % {"name": customer.name})
    return _done(request, customer, outcome, show_card_link=True)


@business_view(role=Role.MANAGER)
def poster(request: HttpRequest) -> HttpResponse:
    """The page to print for the counter: a big QR code of the join link."""
    business = request.business
    join_url = settings.SITE_URL + reverse("portal_join", args=[business.join_code])
    size = "a5" if request.GET.get("size") == "a5" else "a4"
    context = {
        "join_url": join_url,
        "qr": qr_svg(join_url, title=_("Join %(business)s") % {"business": business.name}),
        "size": size,
    }
    return render(request, "loyalty/poster.html", context)


# --- the owner's pages: programs and their rewards ---------------------------------------------


def _program(request: HttpRequest, code: str) -> Program:
    return get_for_business(Program, request.business, code=code)


def _describe(program: Program) -> str:
    """The program's one-line description, or a warning when its stored settings are wrong
    (a program set up before its kind's checks were tightened, say)."""
    try:
        return program.rules.describe()
    except ValidationError:
        return _("Its settings are not valid; open it to correct them.")


@business_view(role=Role.MANAGER)
def program_list(request: HttpRequest) -> HttpResponse:
    """The business's programs, each with its rewards, and a button to add one of each kind."""
    programs = list(
        Program.objects.for_business(request.business)
        .select_related("business")
        .prefetch_related(Prefetch("rewards", Reward.objects.select_related("product")))
    )
    context = {
        "programs": [
            {
                "program": p,
                "description": _describe(p),
                "redeemable": kind_class(p.kind).redeemable,
                "unit": Unit(p.unit).label if p.unit else "",
            }
            for p in programs
        ],
        "kinds": [(value, label, KIND_HELP[value]) for value, label in Program.Kind.choices],
    }
    return render(request, "loyalty/programs.html", context)


@business_view(role=Role.MANAGER)
def program_create(request: HttpRequest) -> HttpResponse:
    """A new program; `?kind=` picks the kind and prefills its settings with an example."""
    kind = request.GET.get("kind", "")
    if kind not in Program.Kind.values:
        kind = Program.Kind.POINTS
    program = Program(business=request.business)
    form = ProgramForm(
        request.POST or None,
        instance=program,
        initial={"kind": kind, "config": CONFIG_EXAMPLES[kind]},
    )
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Program “%(name)s” created.") % {"name": program.name})
        return redirect("program_list", slug=request.business.slug)
    context = {"form": form, "program": None, "kind_help": KIND_HELP[kind]}
    return render(request, "loyalty/program_form.html", context)


@business_view(role=Role.MANAGER)
def program_edit(request: HttpRequest, code: str) -> HttpResponse:
    program = _program(request, code)
    form = ProgramForm(request.POST or None, instance=program)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Program “%(name)s” saved.") % {"name": program.name})
        return redirect("program_list", slug=request.business.slug)
    context = {"form": form, "program": program, "kind_help": KIND_HELP.get(program.kind, "")}
    return render(request, "loyalty/program_form.html", context)


def _reward_page(request: HttpRequest, code: str, reward_code: str | None) -> HttpResponse:
    """Add (no reward code) or edit a reward of a points or stamps program of this business."""
    program = _program(request, code)
    if reward_code is None:
        reward = Reward(business=request.business, program=program)
    else:
        reward = get_for_business(
            Reward.objects.filter(program=program), request.business, code=reward_code
        )
    if not kind_class(program.kind).redeemable:
        raise Http404("This kind of program has no rewards catalog")
    try:
        program.rules  # noqa: B018 -- a reward is checked against its program's parsed settings
    except ValidationError:
        messages.error(request, _("Correct this program's settings before changing its rewards."))
        return redirect("program_edit", slug=request.business.slug, code=program.code)
    form = RewardForm(request.POST or None, instance=reward, business=request.business)
    if request.method == "POST" and form.is_valid():
        form.save()
        if reward_code is None:
            text = _("Reward “%(name)s” created.")
        else:
            text = _("Reward “%(name)s” saved.")
        messages.success(request, text % {"name": reward.name})
        return redirect("program_list", slug=request.business.slug)
    context = {"form": form, "program": program, "reward": reward if reward_code else None}
    return render(request, "loyalty/reward_form.html", context)


@business_view(role=Role.MANAGER)
def reward_create(request: HttpRequest, code: str) -> HttpResponse:
    return _reward_page(request, code, None)


@business_view(role=Role.MANAGER)
def reward_edit(request: HttpRequest, code: str, reward: str) -> HttpResponse:
    return _reward_page(request, code, reward)
