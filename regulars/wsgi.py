"""The WSGI application that granian serves (`regulars serve`).

The URL configuration (and with it every app's views, the API and the analytics libraries) is
loaded here, as each worker starts, not on its first request: no worker spends the first
requests it answers importing.
"""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "regulars.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 (imports every view now)
