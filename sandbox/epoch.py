"""The sandbox's boot number, so nothing it numbers repeats across restarts.

The simulators keep their state in memory: a restarted sandbox starts with a fresh world (the demo
fixture again, no conversations). Switchboard, on the other hand, keeps its rows, including the
Salesforce ids, session names and Pub/Sub replay ids the previous sandbox handed out. Real Salesforce
never reuses any of those; if the restarted sandbox counted from 1 again, an old conversation row would
point at a new, unrelated Messaging Session, and a stored replay id would silently name a new event.
So every counter starts from a block of its own per boot: ``python -m sandbox`` reads and bumps a boot
number kept in ``<var dir>/sandbox-epoch``. In-process sandboxes (the tests) stay at boot 0.
"""

from __future__ import annotations

from pathlib import Path

EPOCH = 0

ID_BLOCK = 10**9  # record ids and replay ids per boot (62^10 ids exist per key prefix and pod)
NUMBER_BLOCK = 10_000  # session names and case numbers per boot: MS-0010001 after the first restart


def advance(state_dir: str | Path) -> int:
    """Take the next boot number from ``state_dir`` and use it for this process."""
    global EPOCH
    path = Path(state_dir) / "sandbox-epoch"
    try:
        previous = int(path.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        previous = 0
    EPOCH = previous + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{EPOCH}\n")
    return EPOCH


def first_id() -> int:
    return EPOCH * ID_BLOCK + 1


def number_base() -> int:
    return EPOCH * NUMBER_BLOCK
