"""The shape of the code, read from the source with ``ast`` (nothing is imported): relay/ has no import loop,
almost no imports hidden in functions and few top-level modules; configuration (tenants/) and the simulators
(sandbox/) never import the relay; the desk and provider base classes know no subclass, and nothing outside a
provider's own package asks whether a provider is Infobip."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RELAY = ROOT / "relay"

MAX_FUNCTION_IMPORTS = 3
MAX_TOP_LEVEL_MODULES = 10


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(package: Path) -> list[Path]:
    return sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imports(path: Path) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement of the file outside ``if TYPE_CHECKING:`` blocks, with whether it is inside a
    function (run when called, not when the module is imported)."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                for grandchild in child.orelse:  # an ``else:`` runs at import time
                    walk(ast.Module(body=[grandchild], type_ignores=[]), in_function)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, in_function))
            walk(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    walk(ast.parse(path.read_text(), filename=str(path)), False)
    return found


def targets(path: Path, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The modules an import statement loads (as dotted names), among ``known`` when it is relative."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:
        package = module_name(path).split(".")
        if path.name != "__init__.py":
            package.pop()
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    loaded = set()
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        loaded.add(candidate if candidate in known else base)  # a submodule, or a name from the module
    return loaded


def with_parents(name: str) -> set[str]:
    """Importing a.b.c runs a/__init__.py and a/b/__init__.py first."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def relay_graph() -> dict[str, set[str]]:
    files = python_files(RELAY)
    known = {module_name(p) for p in files}
    graph: dict[str, set[str]] = {name: set() for name in known}
    for path in files:
        here = module_name(path)
        for node, in_function in imports(path):
            if in_function:
                continue
            for target in targets(path, node, known):
                graph[here] |= {t for t in with_parents(target) if t in known and t != here}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop as a path (first module repeated at the end), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = GREY
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == GREY:
                return [*stack[stack.index(nxt) :], nxt]
            if colour[nxt] == WHITE and (loop := visit(nxt)):
                return loop
        stack.pop()
        colour[node] = BLACK
        return None

    for start in sorted(graph):
        if colour[start] == WHITE and (loop := visit(start)):
            return loop
    return None


# --- the checker itself ------------------------------------------------------------------------------------


def test_the_cycle_finder_finds_a_loop_and_passes_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_imports_tell_module_level_from_function_level_and_skip_type_checking(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import os\n"
        "if TYPE_CHECKING:\n    import json\n"
        "def f():\n    import re\n"
        "class C:\n    import sys\n"
    )
    found = {(node.names[0].name, in_function) for node, in_function in imports(source)}
    assert found == {("TYPE_CHECKING", False), ("os", False), ("re", True), ("sys", False)}


# --- the relay ---------------------------------------------------------------------------------------------


def test_relay_has_no_import_cycle():
    graph = relay_graph()
    assert "relay.tasks" in graph and graph["relay.tasks"], "the graph was not read"
    loop = find_cycle(graph)
    assert loop is None, "import loop: " + " → ".join(loop or [])


def test_relay_imports_at_most_three_modules_inside_functions():
    hidden = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in python_files(RELAY)
        for node, in_function in imports(path)
        if in_function
    ]
    assert len(hidden) <= MAX_FUNCTION_IMPORTS, hidden


def test_relay_has_at_most_ten_top_level_modules():
    modules = sorted(p.name for p in RELAY.glob("*.py") if p.name != "__init__.py")
    assert "models.py" in modules  # the app's models module stays where Django looks for it
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules


@pytest.mark.parametrize("package", ["tenants", "sandbox"])
def test_configuration_and_the_simulators_never_import_the_relay(package):
    files = python_files(ROOT / package)
    assert files
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in files
        for node, _ in imports(path)
        for target in targets(path, node, set())
        if target == "relay" or target.startswith("relay.")
    ]
    assert found == []


@pytest.mark.parametrize(
    ("base", "forbidden"),
    [("relay/desks/base.py", "relay.desks."), ("relay/providers/base.py", "relay.providers.")],
)
def test_a_base_class_knows_no_subclass(base, forbidden):
    path = ROOT / base
    known = {module_name(p) for p in python_files(RELAY)}
    loaded = {t for node, _ in imports(path) for t in targets(path, node, known)}
    assert not {t for t in loaded if t.startswith(forbidden)}, loaded


def test_only_a_providers_own_package_asks_whether_it_is_infobip():
    """The wizard, the API, the handover importer...: they ask the registry (relay/providers/registry.py)."""
    asked = []
    for package in ("relay", "portal", "tenants"):
        for path in python_files(ROOT / package):
            if "migrations" in path.parts or path.is_relative_to(RELAY / "providers" / "infobip"):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Compare) and any(
                    isinstance(side, ast.Constant) and side.value == "infobip"
                    for side in (node.left, *node.comparators)
                ):
                    asked.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert asked == []


# --- a desk and a provider added by settings alone ---------------------------------------------------------


@pytest.fixture
def echo_plugins(settings):
    from tests.plugins import echo_desk, echo_provider

    settings.SWITCHBOARD_DESKS = {**settings.SWITCHBOARD_DESKS, "echo": "tests.plugins.echo_desk.EchoDesk"}
    settings.SWITCHBOARD_PROVIDERS = {
        **settings.SWITCHBOARD_PROVIDERS,
        "echo": "tests.plugins.echo_provider.EchoProvider",
    }
    echo_desk.DELIVERED.clear()
    echo_provider.SENT.clear()
    yield echo_desk, echo_provider
    echo_desk.DELIVERED.clear()
    echo_provider.SENT.clear()


@pytest.mark.django_db(transaction=True)  # the lines are woken after commit, as in production
def test_a_test_only_desk_and_provider_carry_a_message_both_ways(client, echo_plugins):
    from relay.inbound.auth import expected_signature
    from relay.management.commands.relay_listen import record_agent_event
    from relay.models import Conversation, Message
    from tenants.models import SalesforceConnection
    from tests.factories import make_account, make_sender, make_tenant

    echo_desk, echo_provider = echo_plugins
    tenant = make_tenant(welcome_text="", closing_text="")
    SalesforceConnection.objects.create(tenant=tenant, desk="echo", instance_url="https://example.invalid")
    account = make_account(tenant, provider="echo", name="Echo")
    sender = make_sender(account, "+447860099299")

    # Customer → desk: the provider's webhook, parsed by the echo provider, stored, delivered to the echo desk.
    body = b'{"messages": [{"id": "e-1", "from": "+385919998888", "to": "+447860099299", "text": "Hi"}]}'
    response = client.post(
        f"/webhooks/echo/{account.webhook_key}/",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": expected_signature(str(account.webhook_secret), body)},
    )
    assert response.status_code == 200, response.content
    inbound = Message.objects.get(direction="in")
    assert (inbound.status, inbound.provider, inbound.salesforce_entry_id) == (
        "delivered",
        "echo",
        f"echo:{inbound.pk}",
    )
    conversation = Conversation.objects.get(sender=sender)
    delivered_to_agents = echo_desk.DELIVERED
    assert delivered_to_agents == [{"conversation": conversation.pk, "text": "Hi"}]

    # Agent → provider: the listener's handler hands the event to the tenant's desk, which queues the reply;
    # the outbound line sends it through the echo provider. A redelivered event sends nothing twice.
    tenant.refresh_from_db()
    for _ in range(2):
        record_agent_event(tenant, {"conversation": conversation.pk, "id": "a-1", "text": "Hello back"})
    outbound = Message.objects.get(direction="out")
    assert (outbound.status, outbound.provider_message_id[:5]) == ("sent", "echo-")
    sent_to_customer = echo_provider.SENT
    assert sent_to_customer == [
        {"account": account.pk, "from": "+447860099299", "to": "+385919998888", "text": "Hello back"}
    ]


def test_an_unknown_desk_or_provider_is_a_clear_lookup_error(settings):
    from relay.desks.registry import desk_class
    from relay.providers.registry import get_provider

    with pytest.raises(LookupError, match="no desk 'echo'"):
        desk_class("echo")
    with pytest.raises(LookupError, match="no adapter for provider 'echo'"):
        get_provider("echo")


def commit_hooks_that_publish(path: Path) -> list[int]:
    """Lines where a ``transaction.on_commit`` callback calls a task's ``delay`` or ``apply_async`` itself, so a
    broker that refuses it would fail the request whose rows are committed (portal/queueing.py does not)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        is_hook = isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "on_commit"
        if is_hook and any(
            isinstance(inner, ast.Call) and getattr(inner.func, "attr", "") in ("delay", "apply_async")
            for inner in ast.walk(node)
        ):
            found.append(node.lineno)
    return found


def test_the_finder_of_commit_hooks_that_publish_finds_one(tmp_path):
    source = tmp_path / "hooks.py"
    source.write_text(
        "transaction.on_commit(lambda: task.delay(1))\n"
        "transaction.on_commit(lambda: [t.apply_async((p,)) for p in ids])\n"
        "queueing.after_commit(task, 1)\n"
    )
    assert commit_hooks_that_publish(source) == [1, 2]


def test_tasks_queued_after_a_commit_go_through_queueing():
    found = {
        str(path.relative_to(ROOT)): lines
        for package in ("relay", "portal", "tenants")
        for path in python_files(ROOT / package)
        if (lines := commit_hooks_that_publish(path))
    }
    assert found == {}
