import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

# Django imports the URLconf, and with it every view, on the first request. A gunicorn worker does it here, as
# it boots and before it accepts a connection: otherwise the first webhook each worker took waited for it (about
# half a second of CPU), after every start and every restart of a worker.
from django.urls import get_resolver  # noqa: E402 - after the settings above

get_resolver().url_patterns  # noqa: B018 - the property imports the URLconf
