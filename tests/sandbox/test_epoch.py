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


def test_ids_and_record_numbers_do_not_repeat_across_boots(boot):
    seen_ids, seen_cases = set(), set()
    for _ in range(3):
        boot()
        ids = IdFactory()
        new = {ids.new("MessagingSession") for _ in range(5)}
        assert not new & seen_ids
        seen_ids |= new
        world = World()
        world.load_fixture_file("sandbox/fixtures/demo.json")
        org = next(iter(world.orgs._orgs.values()))
        case = org.next_case_number()
        assert case not in seen_cases and len(case) == 8
        seen_cases.add(case)


def test_replay_ids_of_a_new_boot_are_past_every_earlier_one(boot):
    positions = []
    for _ in range(2):
        world = boot()
        positions.append(next(world.pubsub._positions))
    assert decode_replay_id(positions[1].to_bytes(8, "big")) > positions[0] + epoch.ID_BLOCK - 2
