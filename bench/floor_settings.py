"""The product's settings plus what ``python -m bench floor`` measures: a no-op view's URL (instead of the
product's URLs: the floor adds no route to the product) and a no-op Celery task."""

from portal.settings import *  # noqa: F403
from portal.settings import CELERY_IMPORTS

ROOT_URLCONF = "bench.floor_app"
# One module more than the product imports in its workers: the no-op task's.
CELERY_IMPORTS = (*CELERY_IMPORTS, "bench.floor_app")  # type: ignore[assignment]
