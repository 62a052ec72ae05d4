"""A gunicorn worker imports the URLconf, and every view with it, as it boots (portal/wsgi.py): Django does it on
the first request otherwise, and that request (a provider's webhook) waited for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_loading_the_wsgi_application_imports_the_views():
    probe = (
        "import sys\n"
        "import portal.wsgi\n"
        "print('relay.inbound.webhook' in sys.modules, 'portal.console.wizard.views' in sys.modules)\n"
    )
    env = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "portal.settings"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True"]
