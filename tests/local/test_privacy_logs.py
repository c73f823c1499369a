"""No function of the local runtime logs a member's e-mail, name, phone or birthday (issue 13)."""

from __future__ import annotations

import json
import time
import uuid

from urllib.parse import quote_plus

import requests

TIMEOUT = 30
EVENTS_SECONDS = 30


def test_the_runtime_log_holds_no_personal_data_after_enrolment_lookup_purchase_and_erasure(local_runtime):
    sub = f"privacy-{uuid.uuid4().hex[:8]}"
    person = {"email": f"Log.{sub}@Example.com", "name": "Logan Privet", "phone": "+33 1 99 00 12 34", "birthday": "1979-08-23"}
    api, headers = local_runtime.api, local_runtime.headers

    enrolled = requests.post(f"{api}/v1/members", json={**person, "marketing_opt_in": True},
                             headers=headers("member", sub, person["email"]), timeout=TIMEOUT)
    assert enrolled.status_code == 201, enrolled.text
    member_id = enrolled.json()["member_id"]
    # Refusals that carry the data: a second enrolment, and one whose other fields break the schema.
    assert requests.post(f"{api}/v1/members", json=person, headers=headers("pos"), timeout=TIMEOUT).status_code == 409
    invalid = {**person, "birthday": "1979-13-45", "phone": person["phone"] * 10}
    assert requests.post(f"{api}/v1/members", json=invalid, headers=headers("pos"), timeout=TIMEOUT).status_code == 422
    found = requests.get(f"{api}/v1/members", params={"email": person["email"]}, headers=headers("pos"), timeout=TIMEOUT)
    assert [item["member_id"] for item in found.json()["items"]] == [member_id]
    purchase = {"transaction_id": f"t-{sub}", "amount_minor": 2_000, "currency": "EUR"}
    assert requests.post(f"{api}/v1/members/{member_id}/earn", json=purchase, headers=headers("pos"),
                         timeout=TIMEOUT).status_code == 201
    assert requests.get(f"{api}/v1/members/me/export", headers=headers("member", sub), timeout=TIMEOUT).status_code == 200
    erased = requests.delete(f"{api}/v1/members/me", headers=headers("member", sub), timeout=TIMEOUT)
    assert erased.status_code == 200, erased.text

    deadline = time.monotonic() + EVENTS_SECONDS  # the publisher logs every event it publishes: wait for the last
    while not _erasure_published(local_runtime, member_id):
        assert time.monotonic() < deadline, "MemberErased was not published"
        time.sleep(0.5)
    log = local_runtime.log()
    assert member_id in log  # the functions did log these requests, by member id
    for value in person.values():  # as written, and as a URL's query writes it
        assert value.lower() not in log.lower() and quote_plus(value).lower() not in log.lower(), value


def _erasure_published(runtime, member_id: str) -> bool:
    if not runtime.events_path.exists():
        return False
    lines = runtime.events_path.read_text().splitlines()
    return any(event["detail-type"] == "MemberErased" and event["detail"]["member_id"] == member_id
               for event in map(json.loads, lines))
