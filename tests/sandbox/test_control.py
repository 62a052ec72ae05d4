"""The sandbox's shared control API: fixtures, orgs and fault switches."""

import pytest


def test_org_created_through_control_api_is_listed(sim):
    created = sim.post("/__sim/orgs", json={"org_id": "00D8d0000000001", "name": "Acme"})
    assert created.status_code == 201
    assert created.json()["org_id"].startswith("00D8d0000000001") and len(created.json()["org_id"]) == 18
    assert [o["name"] for o in sim.get("/__sim/orgs").json()] == ["Acme"]


def test_org_ids_get_the_checksum_suffix(sim):
    created = sim.post("/__sim/orgs", json={"org_id": "00D000000000062", "name": "Checksum"}).json()
    assert created["org_id"] == "00D000000000062EAA"


def test_org_id_of_wrong_length_is_refused(sim):
    response = sim.post("/__sim/orgs", json={"org_id": "00D8d0000000AcmE", "name": "Sixteen"})
    assert response.status_code == 400
    assert "15 or 18 characters" in response.json()["error"]
    assert sim.get("/__sim/orgs").json() == []


def test_malformed_fixture_is_refused(sim):
    response = sim.post("/__sim/fixture", content=b"{not json")
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_fault_switch_fails_matching_requests_in_the_vendor_shape(sim, status):
    rule = sim.post("/__sim/faults", json={"service": "infobip", "status": status, "retry_after": 2}).json()
    response = sim.get("/sim/infobip/numbers/1/numbers")
    assert response.status_code == status
    assert "serviceException" in response.json()["requestError"]
    assert response.headers["retry-after"] == "2"
    assert sim.delete(f"/__sim/faults/{rule['id']}").status_code == 200
    assert sim.get("/sim/infobip/numbers/1/numbers").status_code != status


def test_fault_switch_gives_an_interaction_service_code_a_given_number_of_times(sim):
    fault = {"service": "scrt", "path": "/interactions", "status": 400, "code": 10019, "times": 2}
    assert sim.post("/__sim/faults", json=fault).status_code == 201
    for _ in range(2):
        response = sim.post("/sim/scrt/api/v1/interactions")
        assert (response.status_code, response.json()["code"]) == (400, 10019)
    assert sim.post("/sim/scrt/api/v1/interactions").json()["code"] == 10004  # spent: the real answer


@pytest.mark.parametrize("bad", [{"times": 0}, {"times": "1"}, {"code": "10019"}])
def test_fault_rule_with_a_bad_count_or_code_is_refused(sim, bad):
    assert sim.post("/__sim/faults", json={"service": "scrt", **bad}).status_code == 400
    assert sim.get("/__sim/faults").json() == []


def test_fault_rule_with_unknown_service_is_refused(sim):
    response = sim.post("/__sim/faults", json={"service": "nope"})
    assert response.status_code == 400
    assert "service must be one of" in response.json()["error"]
    assert sim.get("/__sim/faults").json() == []
