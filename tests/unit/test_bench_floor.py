"""``python -m bench floor`` adds its readings up: each message's pieces, the cheapest reading of each, and the
product's own choices beside them."""

import pytest

from bench.floor import MESSAGES, floors, table


def reading(key: str, component: str, **per_op_ms: float) -> dict:
    return {
        "key": key,
        "component": component,
        "label": key,
        "ops": 100,
        "per_op_ms": per_op_ms,
        "total_ms": sum(per_op_ms.values()),
    }


READINGS = {
    r["key"]: r
    for r in (
        reading("web_django", "webhook", gunicorn=0.7),
        reading("web_bare", "web_bare", gunicorn=0.4),
        reading("task_prefork", "task", publisher=0.9, worker=2.5, redis=0.3),
        reading("task_threads", "task", publisher=0.9, worker=1.4, redis=0.2),
        reading("pg_write_server", "pg_write", psycopg=0.3, backend=0.4),
        reading("pg_write_client", "pg_write", psycopg=0.3, backend=0.5),
        reading("pg_read_server", "pg_read", psycopg=0.1, backend=0.05),
        reading("pg_read_client", "pg_read", psycopg=0.1, backend=0.1),
        reading("http_httpx_relay", "http", client=0.75),
        reading("http_stdlib", "http", client=0.2),
    )
}


def test_the_floor_takes_the_cheapest_reading_of_each_piece_times_what_a_message_needs():
    summed = floors(READINGS, {"http": "http_httpx_relay", "pg_write": "pg_write_client"})
    # webhook 0.7 + 2 × write 0.7 + task 2.5 + http 0.2
    assert summed["customer"]["floor"]["total_ms"] == pytest.approx(0.7 + 2 * 0.7 + 2.5 + 0.2)
    # write 0.7 + task 2.5 + 2 × http 0.2 + 2 × webhook 0.7
    assert summed["agent"]["floor"]["total_ms"] == pytest.approx(0.7 + 2.5 + 2 * 0.2 + 2 * 0.7)
    chosen = {p["component"]: p["reading"] for p in summed["customer"]["floor"]["parts"]}
    assert chosen == {
        "webhook": "web_django",
        "pg_write": "pg_write_server",
        "task": "task_threads",
        "http": "http_stdlib",
    }


def test_each_step_its_own_row_adds_the_reads_writes_and_task_the_guarantees_cost():
    summed = floors(READINGS, {})
    assert summed["customer, the worker reading its row"]["floor"]["total_ms"] == pytest.approx(
        summed["customer"]["floor"]["total_ms"] + 0.15
    )
    assert summed["agent, each step its own row, the ack its own task"]["floor"]["total_ms"] == pytest.approx(
        summed["agent"]["floor"]["total_ms"] + 3 * 0.7 + 2.5
    )
    full = summed["agent, each step its own row, the ack its own task"]
    assert full["target_ms"] == 12
    assert {p["component"]: p["times"] for p in full["floor"]["parts"]} == {
        "pg_write": 4,
        "task": 2,
        "http": 2,
        "webhook": 2,
    }


def test_the_product_choices_replace_only_the_pieces_they_name():
    summed = floors(READINGS, {"http": "http_httpx_relay", "pg_write": "pg_write_client"})
    assert summed["customer"]["as_built"]["total_ms"] == pytest.approx(0.7 + 2 * 0.8 + 2.5 + 0.75)
    assert summed["agent"]["as_built"]["total_ms"] == pytest.approx(0.8 + 2.5 + 2 * 0.75 + 2 * 0.7)
    assert summed["customer"]["target_ms"] == 6 and summed["agent"]["target_ms"] == 12


def test_a_bare_server_never_stands_in_for_django():
    # The mandated stack is Django: the bare WSGI app is printed for comparison, never summed.
    summed = floors(READINGS, {})
    parts = summed["agent"]["floor"]["parts"] + summed["customer"]["floor"]["parts"]
    assert "web_bare" not in {p["reading"] for p in parts}
    assert {c for _, _, recipe in MESSAGES for c, _ in recipe} == {
        "webhook",
        "pg_write",
        "pg_read",
        "task",
        "http",
    }


def test_a_missing_piece_is_an_error_not_a_zero():
    partial = {k: v for k, v in READINGS.items() if v["component"] != "task"}
    with pytest.raises(KeyError, match="task"):
        floors(partial, {})


def test_the_table_prints_each_reading_and_each_floor_beside_its_target():
    text = table(READINGS, floors(READINGS, {"http": "http_httpx_relay", "pg_write": "pg_write_client"}))
    assert "| task_threads | publisher 0.900, worker 1.400, redis 0.200 | 2.500 |" in text
    customer = next(line for line in text.splitlines() if line.startswith("| customer |"))
    assert "**4.80**" in customer and "| 6 |" in customer
    agent = next(line for line in text.splitlines() if line.startswith("| agent |"))
    assert "2 × webhook (0.70)" in agent and "**5.00**" in agent and "| 6.20 | 12 |" in agent
