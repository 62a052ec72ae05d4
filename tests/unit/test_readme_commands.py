"""Every command the README and the guides print works as printed, from the top of the repository.

The commands are read from the documents themselves (fenced ``sh`` blocks and inline code that starts
with one of our entry points), so a command added to a document is checked without editing this file.
Cheap ones are run in a fresh var dir on the embedded defaults, as a new user would run them; the long
runners (``bin/run``, ``bin/test``, the benchmarks) are checked to exist and to parse, and ``bin/run``
is started by ``.ci/run``'s smoke test.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import get_commands

from bench.__main__ import COMMANDS as BENCH_COMMANDS

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "sandbox" / "README.md"]
ENTRY_POINTS = ("bin/", ".venv/bin/python", "python -m ", "python manage.py")


def _commands() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for document in DOCUMENTS:
        text = document.read_text()
        blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
        lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
        lines += re.findall(r"`((?:bin/|\.venv/bin/python )[^`]+)`", text)
        for line in lines:
            command = line.split("  #", 1)[0].split(" # ", 1)[0].strip()
            command = re.sub(r"^(KEY=\$\()(.*)\)$", r"\2", command)  # KEY=$(bin/manage ...)
            command = re.sub(r"^([A-Z_]+=\S+ )+", "", command)  # VAR=value prefixes
            if command.startswith(ENTRY_POINTS) and "<" not in command:
                found.append((document.relative_to(ROOT).as_posix(), command))
    return sorted(set(found))


COMMANDS = _commands()


def test_the_documents_print_commands():
    assert any(cmd == "bin/run" for _, cmd in COMMANDS)
    assert any(cmd.startswith("bin/test") for _, cmd in COMMANDS)
    assert any(cmd.startswith("bin/manage create_api_key") for _, cmd in COMMANDS)


@pytest.mark.parametrize(("document", "command"), COMMANDS, ids=[f"{d}: {c}" for d, c in COMMANDS])
def test_each_printed_command_names_something_that_exists(document, command):
    argv = shlex.split(command)
    assert not command.startswith(("python manage.py", "python -m ")), (
        f"{document} prints {command!r}: a fresh clone has no such interpreter setup; "
        "print bin/manage … or .venv/bin/python … instead"
    )
    program = ROOT / argv[0]
    assert program.exists() and os.access(program, os.X_OK), f"{document}: {argv[0]} is not an executable"
    if argv[0] == "bin/manage":
        assert argv[1] in get_commands(), f"{document}: no management command {argv[1]!r}"
    if argv[:3] == [".venv/bin/python", "-m", "bench"]:
        assert argv[3] in BENCH_COMMANDS, f"{document}: no bench command {argv[3]!r}"


def _fresh_env(var_dir: Path) -> dict[str, str]:
    """The environment of a new user's shell: none of the test run's settings, embedded defaults."""
    dropped = {
        "DJANGO_SETTINGS_MODULE",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "CACHE_URL",
        "SECRET_KEY",
        "ENCRYPTION_KEYS",
        "DEBUG",
        "CELERY_TASK_ALWAYS_EAGER",
    }
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("RELAY_")}
    env["SWITCHBOARD_VAR_DIR"] = str(var_dir)
    return env


def _run(command: str, env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603 - our own scripts, as printed in our documents
        shlex.split(command), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{command!r} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.integration  # runs the scripts in subprocesses: not part of the fast unit tier
def test_key_commands_work_as_printed_on_a_fresh_machine(tmp_path):
    env = _fresh_env(tmp_path)
    key = _run("bin/manage generate_encryption_key", env).strip()
    Fernet(key.encode())  # a usable key, printed alone
    _run("bin/manage migrate --verbosity 0", env)  # what bin/run does first
    api_key = _run("bin/manage create_api_key --partner demo", env).strip()
    assert re.fullmatch(r"sb_[A-Za-z0-9_\-]{20,}", api_key), api_key
    # Printed once and stored as a digest: the database holds no copy of the key itself.
    database = (tmp_path / "switchboard.sqlite3").read_bytes()
    assert api_key.encode() not in database
