from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "regulars.integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from regulars.integrations import events

        events.connect()
