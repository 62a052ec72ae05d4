"""What ``python -m bench floor`` serves: a no-op Django view (behind the product's whole MIDDLEWARE, on a
URL only :mod:`bench.floor_settings` routes), the same answer as a bare WSGI app, a no-op Celery task, and a
small aiohttp server for the HTTP clients to call.

Nothing here imports Django models or the product's URLs: the bare app must load without Django set up.
"""

from __future__ import annotations

from celery import shared_task
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

ANSWER = b'{"ok":true}'


@csrf_exempt  # as the product's webhook view: providers post without a CSRF token
@require_POST
def noop(request, key: str):
    request.body  # noqa: B018 - read the body, as any webhook must
    return HttpResponse(ANSWER, content_type="application/json")


urlpatterns = [path("webhooks/floor/<str:key>/", noop)]


def bare(environ, start_response):
    """The same request and answer with no framework: the WSGI server's own share."""
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))])
    return [ANSWER]


@shared_task(name="bench.floor.noop")
def noop_task(conversation_id: int) -> None:
    """Carries an id, as the product's tasks do, and does nothing with it."""


def serve_http(port: int) -> None:
    """The far end of the HTTP client measurement (its CPU is not measured): answers every POST at once."""
    import aiohttp.web

    async def answer(request: aiohttp.web.Request) -> aiohttp.web.Response:
        await request.read()
        return aiohttp.web.Response(body=ANSWER, content_type="application/json")

    app = aiohttp.web.Application()
    app.router.add_post("/{tail:.*}", answer)
    aiohttp.web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    import sys

    serve_http(int(sys.argv[1]))
