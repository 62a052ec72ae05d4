"""A restarted sandbox never hands out an id, replay id or record number the previous boot handed out."""

from __future__ import annotations

import pytest

from sandbox import epoch
from sandbox.pubsub.bus import decode_replay_id
from sandbox.salesforce.ids import IdFactory
from sandbox.world import World


@pytest.fixture
def boot(tmp_path, monkeypatch):
    monkeypatch.setattr(epoch, "EPOCH", 0)

    def restart() -> World:
        epoch.advance(tmp_path)
        return World()

    return restart


def test_the_boot_number_is_kept_in_the_state_dir(tmp_path, boot):
    boot()
    boot()
    assert (tmp_path / "sandbox-epoch").read_text().strip() == "2"
    assert epoch.EPOCH == 2


def test_runtime_ids_and_record_numbers_do_not_repeat_across_boots_but_fixture_ids_stay(boot):
    seen_ids, seen_cases, fixture_users = set(), set(), []
    for _ in range(3):
        world = boot()
        world.load_fixture_file("sandbox/fixtures/demo.json")
        org = world.orgs.all()[0]
        fixture_users.append(sorted(u["Id"] for u in org.records.all("User")))
        new = {org.records.ids.new("MessagingSession") for _ in range(5)}
        assert not new & seen_ids
        seen_ids |= new
        case = org.next_case_number()
        assert case not in seen_cases and len(case) == 8
        seen_cases.add(case)
    assert fixture_users[0] == fixture_users[1] == fixture_users[2]


def test_a_fresh_factory_counts_from_one_until_told_to_skip(boot):
    boot()
    ids = IdFactory()
    first = ids.new("User")
    ids.skip_to_boot_block()
    assert ids.new("User") > first and first.startswith("0058d000000000")


def test_replay_ids_of_a_new_boot_are_past_every_earlier_one(boot):
    positions = []
    for _ in range(2):
        world = boot()
        positions.append(next(world.pubsub._positions))
    assert decode_replay_id(positions[1].to_bytes(8, "big")) > positions[0] + epoch.ID_BLOCK - 2
