from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "regulars.loyalty"
    verbose_name = _("Loyalty")

    def ready(self) -> None:
        from regulars.customers.signals import customer_created
        from regulars.loyalty.enrolment import pay_joined_bonus

        # A customer added anywhere (the API, the customer pages) gets the joined bonus, as one
        # who joins at the counter or on the join page does; the key makes it once per person.
        customer_created.connect(pay_joined_bonus, dispatch_uid="loyalty.joined_bonus")
