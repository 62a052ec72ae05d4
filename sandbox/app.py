"""The sandbox's HTTP side: one Starlette app serving every simulated host under a path prefix.

| prefix            | stands in for                                   |
|-------------------|-------------------------------------------------|
| /sim/login        | https://login.salesforce.com (and test.)        |
| /sim/core         | https://<mydomain>.my.salesforce.com            |
| /sim/scrt         | https://<mydomain>.my.salesforce-scrt.com       |
| /sim/livechat     | the Legacy Chat API endpoint host               |
| /sim/infobip      | https://<subdomain>.api.infobip.com             |
| /sim/8x8          | https://chatapps.8x8.com (and its regional kin) |
| /__sim/...        | test-only control API and pages (agent console, phone, Canvas launcher) |
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import arrivals, control
from .console import cases as console_cases
from .console import views as console_views
from .eightbyeight import api as eightbyeight_api
from .eightbyeight import control as eightbyeight_control
from .enhancedchat import api as enhancedchat_api
from .enhancedchat import control as enhancedchat_control
from .enhancedchat import sse as enhancedchat_sse
from .faults import FaultMiddleware
from .infobip import api as infobip_api
from .infobip import control as infobip_control
from .phone import views as phone_views
from .pubsub import views as pubsub_views
from .salesforce import canvas, livechat, oauth, rest, scrt
from .world import World

HERE = Path(__file__).resolve().parent
VENDOR_STATIC = HERE.parent / "static" / "vendor"
FAVICON = HERE.parent / "static" / "favicon.svg"


async def favicon(_request) -> FileResponse:
    return FileResponse(FAVICON, media_type="image/svg+xml")


def build_app(world: World) -> Starlette:
    routes = [
        *oauth.routes(world),
        *rest.routes(world),
        *scrt.routes(world),
        *enhancedchat_api.routes(world),
        *enhancedchat_sse.routes(world),
        *enhancedchat_control.routes(world),
        *livechat.routes(world),
        *infobip_api.routes(world),
        *eightbyeight_api.routes(world),
        *eightbyeight_control.routes(world),
        *control.routes(world),
        *arrivals.routes(world),
        *infobip_control.routes(world),
        *console_cases.routes(world),
        *console_views.routes(world),
        *phone_views.routes(world),
        *pubsub_views.routes(world),
        *canvas.routes(world),
        Route("/favicon.ico", favicon),
        Mount(
            "/__sim/static/vendor", app=StaticFiles(directory=VENDOR_STATIC, check_dir=False), name="vendor"
        ),
        Mount("/__sim/static", app=StaticFiles(directory=HERE / "static", check_dir=False), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(FaultMiddleware, board=world.faults)])
    app.state.world = world
    return app
