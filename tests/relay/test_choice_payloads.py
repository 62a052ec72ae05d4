"""WhatsApp choices as each vendor documents its interactive messages, whatever titles and ids the agent's
options carry. Infobip (infobip-whatsapp-openapi.json, InteractiveReplyButtonContent / InteractiveRowContent):
a reply button's id is 1..256 characters and its title a "Unique title of the button. Doesn't allow emojis
or markdown", 1..20 characters; a row's id 1..200 characters, "unique across all sections". 8x8
(business_messaging_api.json, the interactive ``action.buttons`` and ``sections.rows``): button ids ≤256,
titles "cannot be an empty string and must be unique within the message" (emojis supported), row ids ≤200.
Options that cannot be reply buttons become a list (or numbered text), never a request the vendor refuses."""

from __future__ import annotations

import pytest

from relay.providers.base import Button
from relay.providers.eightbyeight import payloads as eightbyeight
from relay.providers.infobip import payloads as infobip

LONG = "x" * 300

CASES = {
    "two options with one title": [Button("10:00", "slot-1"), Button("10:00", "slot-2")],
    "a fallback id taken by a payload": [Button("A", "3"), Button("B", "b"), Button("C", "b")],
    "payloads alike in their first 200 characters": [Button("A", LONG + "1"), Button("B", LONG + "2")],
    "payloads alike in their first 200 characters, a list": [
        Button(f"Option {n}", LONG + str(n)) for n in range(5)
    ],
    "an emoji in a title": [Button("👍 Yes", "yes"), Button("No", "no")],
}


def infobip_parts(buttons):
    found = infobip.whatsapp_choices("Pick one", buttons)
    if found is None:
        return None, []
    path, content = found
    if path.endswith("/buttons"):
        return "buttons", content["action"]["buttons"]
    assert path.endswith("/list")
    return "list", [row for section in content["action"]["sections"] for row in section["rows"]]


def eightbyeight_parts(buttons):
    found = eightbyeight.whatsapp_choices("Pick one", buttons)
    if found is None:
        return None, []
    if found["type"] == "button":
        return "buttons", [
            {"id": b["reply"]["id"], "title": b["reply"]["title"]} for b in found["action"]["buttons"]
        ]
    assert found["type"] == "list"
    return "list", [row for section in found["action"]["sections"] for row in section["rows"]]


def assert_documented(kind, parts, *, id_max, emoji_titles):
    if kind is None:
        return
    ids = [part["id"] for part in parts]
    assert len(set(ids)) == len(ids), ids
    assert all(1 <= len(i) <= id_max and i == i.strip() for i in ids), ids
    titles = [part["title"] for part in parts]
    if kind == "buttons":
        assert len(set(titles)) == len(titles), titles
        assert all(1 <= len(t) <= 20 for t in titles), titles
        if not emoji_titles:
            assert not any(ch in t for t in titles for ch in "👍"), titles
    else:
        assert all(1 <= len(t) <= 24 for t in titles), titles


@pytest.mark.parametrize("name", sorted(CASES))
def test_infobip_choices_fit_the_documented_limits(name):
    kind, parts = infobip_parts(CASES[name])
    assert kind is not None  # each case fits a list at worst
    assert_documented(kind, parts, id_max=256 if kind == "buttons" else 200, emoji_titles=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_8x8_choices_fit_the_documented_limits(name):
    kind, parts = eightbyeight_parts(CASES[name])
    assert kind is not None
    assert_documented(kind, parts, id_max=256 if kind == "buttons" else 200, emoji_titles=True)


def test_an_emoji_title_stays_a_button_on_8x8_and_becomes_a_row_on_infobip():
    buttons = CASES["an emoji in a title"]
    assert eightbyeight_parts(buttons)[0] == "buttons"
    kind, parts = infobip_parts(buttons)
    assert kind == "list" and parts[0]["title"] == "👍 Yes"


def test_distinct_short_titles_stay_reply_buttons_with_their_payloads():
    buttons = [Button("Yes", "yes"), Button("No", "no")]
    for kind, parts in (infobip_parts(buttons), eightbyeight_parts(buttons)):
        assert kind == "buttons" and [(p["id"], p["title"]) for p in parts] == [("yes", "Yes"), ("no", "No")]
