from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from regulars.accounts.models import Business, Membership, Role, User


class Command(BaseCommand):
    help = "Create a business and its owner login (the owner is created if it does not exist)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="short name used in URLs, e.g. corner-cafe")
        parser.add_argument("--name", help="display name (default: from the slug)")
        parser.add_argument("--currency", default="EUR", help="ISO 4217 code (default EUR)")
        parser.add_argument("--language", default="en", choices=[c for c, _ in settings.LANGUAGES])
        parser.add_argument("--timezone", default=settings.TIME_ZONE)
        parser.add_argument("--owner", required=True, help="username of the owner")
        parser.add_argument("--password", help="owner's password when the user is new")

    def handle(self, *args, slug, name, currency, language, timezone, owner, password, **opts):
        if slugify(slug) != slug:
            raise CommandError(
                f"slug: {slug!r} may contain only lower-case letters, digits and '-'"
            )
        if len(currency) != 3 or not currency.isalpha():
            raise CommandError(f"currency: {currency!r} is not a 3-letter ISO code")
        if Business.objects.filter(slug=slug).exists():
            raise CommandError(f"slug: a business {slug!r} already exists")
        with transaction.atomic():
            business = Business.objects.create(
                slug=slug,
                name=name or slug.replace("-", " ").title(),
                currency=currency.upper(),
                language=language,
                timezone=timezone,
            )
            user = User.objects.filter(username=owner).first()
            if user is None:
                if not password:
                    raise CommandError("password: required for a new owner")
                user = User.objects.create_user(username=owner, password=password)
            Membership.objects.create(user=user, business=business, role=Role.OWNER)
        self.stdout.write(self.style.SUCCESS(f"Created {business.name} ({slug}) owned by {owner}."))
