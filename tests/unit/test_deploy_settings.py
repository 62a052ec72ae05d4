"""The README's production settings pass ``manage.py check --deploy`` with no warning, and the security
settings follow the environment: HSTS, the https redirect, secure cookies, and X-Forwarded-Proto trusted
only when configured."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_FERNET_KEY = "wqPZgHGO5rHAvCQsW6kPiJTEZ4e4i8IkoSXCpMQcXmA="


def readme_deploy_settings() -> dict[str, str]:
    """NAME=value lines of the first sh block of README's "Deploy" section; <placeholders> left as they are."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^#+ Deploy\b.*?$(.*?)(?=^#+ |\Z)", readme, re.M | re.S)
    assert section, "README has no Deploy section"
    block = re.search(r"```sh\n(.*?)```", section.group(1), re.S)
    assert block, "the Deploy section has no sh block"
    pairs = dict(re.findall(r"^([A-Z_]+)=(.*)$", block.group(1), re.M))
    assert pairs, "no settings in the Deploy block"
    return pairs


def run_check(tmp_path, settings: dict[str, str]) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SWITCHBOARD_VAR_DIR": str(tmp_path / "var"),
        # Not part of the check: where the data lives (no connection is opened by `check`).
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **settings,
    }
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def with_real_secrets(settings: dict[str, str]) -> dict[str, str]:
    """The block's placeholders are for the operator: fill them as the operator would."""
    filled = dict(settings)
    assert filled["SECRET_KEY"].startswith("<") and filled["ENCRYPTION_KEYS"].startswith("<")
    filled["SECRET_KEY"] = secrets.token_urlsafe(50)
    filled["ENCRYPTION_KEYS"] = TEST_FERNET_KEY
    assert not [name for name, value in filled.items() if value.startswith("<")], filled
    return filled


def test_the_readmes_production_settings_pass_check_deploy(tmp_path):
    result = run_check(tmp_path, with_real_secrets(readme_deploy_settings()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("left_out", "warning"),
    [
        ("SECURE_HSTS_SECONDS", "security.W004"),
        ("SECURE_SSL_REDIRECT", "security.W008"),
        ("SECURE_HSTS_INCLUDE_SUBDOMAINS", "security.W005"),
        ("SECURE_HSTS_PRELOAD", "security.W021"),
    ],
)
def test_leaving_a_setting_out_is_a_deploy_warning(tmp_path, left_out, warning):
    settings = with_real_secrets(readme_deploy_settings())
    settings.pop(left_out)
    result = run_check(tmp_path, settings)
    assert result.returncode != 0 and warning in result.stdout + result.stderr


def settings_with(tmp_path, **environment) -> dict:
    """The settings module's values in a fresh process with this environment."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({"
        "'proxy': s.SECURE_PROXY_SSL_HEADER, 'session': s.SESSION_COOKIE_SECURE, 'csrf': s.CSRF_COOKIE_SECURE, "
        "'redirect': s.SECURE_SSL_REDIRECT, 'hsts': s.SECURE_HSTS_SECONDS}))"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SWITCHBOARD_VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ENCRYPTION_KEYS": TEST_FERNET_KEY,
        **environment,
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    import json

    return json.loads(result.stdout.strip().splitlines()[-1])


def test_x_forwarded_proto_is_trusted_only_when_configured(tmp_path):
    assert settings_with(tmp_path, DEBUG="false")["proxy"] is None
    assert settings_with(tmp_path, DEBUG="false", TRUST_X_FORWARDED_PROTO="true")["proxy"] == [
        "HTTP_X_FORWARDED_PROTO",
        "https",
    ]


def test_cookies_are_secure_whenever_debug_is_off(tmp_path):
    production = settings_with(tmp_path, DEBUG="false", PUBLIC_BASE_URL="http://10.0.0.5:8000")
    assert (production["session"], production["csrf"]) == (True, True)
    laptop = settings_with(tmp_path, DEBUG="true")
    assert (laptop["session"], laptop["csrf"], laptop["redirect"], laptop["hsts"]) == (False, False, False, 0)
