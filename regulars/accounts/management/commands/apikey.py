from django.core.management.base import BaseCommand, CommandError

from regulars.accounts.apikeys import create_key, revoke
from regulars.accounts.models import ApiKey, Business


class Command(BaseCommand):
    help = "Create, list or revoke REST API keys of a business. A new key is printed once."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key and print it (only now)")
        create.add_argument("--business", required=True, help="business slug")
        create.add_argument("--scope", choices=ApiKey.Scope.values, default=ApiKey.Scope.READ)
        create.add_argument("--name", default="API key", help="what the key is for, e.g. 'till 1'")
        listing = sub.add_parser("list", help="list keys (prefix, scope, last used)")
        listing.add_argument("--business", required=True)
        rev = sub.add_parser("revoke", help="revoke a key by its prefix (rg_xxxxxxxx)")
        rev.add_argument("--business", required=True)
        rev.add_argument("prefix")

    def handle(self, *args, action, business, **opts):
        found = Business.objects.filter(slug=business).first()
        if found is None:
            raise CommandError(f"business: no business with slug {business!r}")
        if action == "create":
            key, token = create_key(business=found, name=opts["name"], scope=opts["scope"])
            self.stderr.write(
                f"Created {key.scope} key {key} for {found.slug}; it is shown only now:"
            )
            self.stdout.write(token)
        elif action == "list":
            for key in ApiKey.objects.for_business(found):
                state = "revoked" if key.revoked_at else "active"
                used = (
                    key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
                )
                self.stdout.write(f"{key}\t{key.scope}\t{state}\tlast used {used}\t{key.name}")
        else:
            prefix = opts["prefix"].removeprefix("rg_")
            key = ApiKey.objects.for_business(found).filter(prefix=prefix).first()
            if key is None:
                raise CommandError(f"prefix: no key rg_{prefix} in {found.slug}")
            revoke(key)
            self.stdout.write(f"Revoked {key}.")
