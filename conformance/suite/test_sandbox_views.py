"""What the Klavis API says about its sandboxes, answer by answer: acquire, details, the list and its filters,
reset and release (a TTL release for another instance skipped), and the dump's own fields.

Every answer names the sandbox it is about; details and the list agree with each other and with the
acquire (its tag among the sandbox's tags, occupied until released); the list's ``tag`` and
``server_name`` filters select exactly what they name; ``updated_at`` moves only with a change; a
dump is dated after the last change of its sandbox and keeps each memory's id and times from dump to
dump; a dump initialized again dumps the same (the fixpoint). (FACTS.md "Klavis mem0 sandbox API";
the release parameters' descriptions in the effective document; ROUNDTRIP.md.)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from conformance.suite import roundtrip
from conformance.suite.machines.sandbox import BASE
from conformance.suite.sources import KLAVIS
from conformance.suite.support import expect, track_sandbox
from conformance.verdicts import Severity, fact, require

pytestmark = [pytest.mark.requires("klavis"), pytest.mark.contract("Sandbox lifecycle")]

DETAILS, LIST = f"GET {BASE}/{{sandbox_id}}", "GET /sandbox"


def acquire(klavis, cleanup, tag: str, seen: set[str]) -> str:
    source = fact(KLAVIS, f"POST {BASE}")
    answer = expect(klavis.post(BASE, json={"tag": tag}), 201, source=source)
    shown = {key: answer.get(key) for key in ("server_name", "status")} if isinstance(answer, dict) else answer
    require(shown == {"server_name": "mem0", "status": "occupied"}, f"POST {BASE} answers {answer}", received=answer,
            documented={"server_name": "mem0", "status": "occupied"}, source=source)
    sandbox_id = answer.get("sandbox_id")
    require(isinstance(sandbox_id, str) and sandbox_id not in seen, f"POST {BASE} answers the sandbox {sandbox_id!r}, "
            "which the run already holds", received=sandbox_id, documented="a sandbox of its own", source=source,
            severity=Severity.CRITICAL)
    seen.add(sandbox_id)
    track_sandbox(cleanup, klavis, sandbox_id)
    return sandbox_id


def details(klavis, sandbox_id: str) -> dict[str, Any]:
    source = fact(KLAVIS, DETAILS)
    view = expect(klavis.get(f"{BASE}/{sandbox_id}"), 200, source=source)
    shown = {key: view.get(key) for key in ("sandbox_id", "server_name")} if isinstance(view, dict) else view
    require(shown == {"sandbox_id": sandbox_id, "server_name": "mem0"}, f"GET {BASE}/{sandbox_id} shows {shown}",
            received=view, documented={"sandbox_id": sandbox_id, "server_name": "mem0"}, source=source)
    return view


def listed(klavis, **params: str) -> dict[str, dict[str, Any]]:
    source = fact(KLAVIS, LIST)
    answer = expect(klavis.get("/sandbox", params=params), 200, source=source)
    items = answer.get("sandboxes") if isinstance(answer, dict) else None
    require(isinstance(items, list) and answer.get("total_count") == len(items), f"GET /sandbox {params} answers "
            f"{len(items) if isinstance(items, list) else items!r} sandboxes, total_count {answer.get('total_count')!r}",
            received=answer, documented="{sandboxes: [...], total_count: how many}", source=source)
    return {item.get("sandbox_id"): item for item in items if isinstance(item, dict)}


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def test_details_and_the_list_show_what_acquire_made(klavis, cleanup, run_prefix):
    """Acquired sandboxes are new and occupied; details and the list show each with its tag, alike; the list's
    tag and server_name filters select exactly the sandboxes they name."""
    seen: set[str] = set()
    first, second = f"{run_prefix}-views-a", f"{run_prefix}-views-b"
    made = {acquire(klavis, cleanup, first, seen): first, acquire(klavis, cleanup, first, seen): first,
            acquire(klavis, cleanup, second, seen): second}
    views = {}
    for sandbox_id, tag in made.items():
        views[sandbox_id] = view = details(klavis, sandbox_id)
        require(view.get("status") == "occupied" and tag in (view.get("tags") or []),
                f"GET {BASE}/{sandbox_id} shows status {view.get('status')!r}, tags {view.get('tags')!r}", received=view,
                documented={"status": "occupied", "tags": f"[{tag!r}, ...]"}, source=fact(KLAVIS, DETAILS))
        again = details(klavis, sandbox_id)
        require(again == view, f"GET {BASE}/{sandbox_id} answers otherwise the second time, with no change between",
                received=again, documented=view, source=fact(KLAVIS, DETAILS))
    for tag in (first, second):
        wanted = {sandbox_id for sandbox_id, made_tag in made.items() if made_tag == tag}
        for params in ({"tag": tag}, {"tag": tag, "server_name": "mem0"}):
            found = listed(klavis, **params)
            require(set(found) == wanted, f"GET /sandbox {params} lists {sorted(found)}", received=sorted(found),
                    documented=sorted(wanted), source=fact(KLAVIS, LIST), severity=Severity.CRITICAL)
            for sandbox_id, item in found.items():
                shown = {key: item.get(key) for key in ("server_name", "status", "tags", "updated_at")}
                documented = {key: views[sandbox_id].get(key) for key in shown}
                require(shown == documented, f"GET /sandbox shows {sandbox_id} otherwise than its details", received=shown,
                        documented=documented, source=fact(KLAVIS, LIST))
    other = klavis.get("/sandbox", params={"tag": first, "server_name": "github"})
    if other.status_code == 200:
        found = listed(klavis, tag=first, server_name="github")
        require(not found, "GET /sandbox of another server lists the mem0 sandboxes", received=sorted(found),
                documented="none of them", source=fact(KLAVIS, LIST), severity=Severity.CRITICAL)


def _item(text: str, user: str, timestamp: int) -> dict[str, Any]:
    return {"message_list": [{"role": "user", "content": text}], "user_id": user, "auto_infer": False,
            "background_processing": False, "timestamp": timestamp, "exclude_preferences": "no politics",
            "include_preferences": "food", "metadata": {"from": "views"}}


def test_reset_and_release_name_their_sandbox_and_a_ttl_release_for_another_instance_is_skipped(klavis, cleanup,
                                                                                               run_prefix):
    """Reset and release answer their own sandbox (occupied, then idle) and move its updated_at; a TTL release
    naming another instance (is_ttl, instance_id) is skipped: the sandbox stays occupied with its data."""
    sandbox_id = acquire(klavis, cleanup, f"{run_prefix}-views-c", set())
    body = {"memory_list": [_item("Keeps bees on the roof", f"{run_prefix}-kvuser-views", 1700000000)]}
    expect(klavis.post(f"{BASE}/{sandbox_id}/initialize", json=body), 200)
    before = details(klavis, sandbox_id)
    skipped = expect(klavis.delete(f"{BASE}/{sandbox_id}", params={"is_ttl": "true", "instance_id": str(uuid.uuid4())}),
                     200, source=fact(KLAVIS, f"DELETE {BASE}/{{sandbox_id}}"))
    after = details(klavis, sandbox_id)
    dump = expect(klavis.get(f"{BASE}/{sandbox_id}/dump"), 200)
    require(after.get("status") == "occupied" and len(roundtrip.memory_list(dump)) == 1 and skipped.get("sandbox_id") ==
            sandbox_id, f"a TTL release of {sandbox_id} naming another instance leaves it {after.get('status')!r} with "
            f"{len(roundtrip.memory_list(dump))} memories", received={"answer": skipped, "details": after},
            documented="skipped: still occupied, its data kept ('if provided and mismatched, the release is skipped')",
            source=fact(KLAVIS, f"DELETE {BASE}/{{sandbox_id}}"), severity=Severity.CRITICAL)
    for verb, path, status in (("POST", f"{BASE}/{sandbox_id}/reset", "occupied"), ("DELETE", f"{BASE}/{sandbox_id}", "idle")):
        answer = expect(klavis.request(verb, path), 200, source=fact(KLAVIS, f"{verb} {path}"))
        shown = {key: answer.get(key) for key in ("sandbox_id", "status")} if isinstance(answer, dict) else answer
        require(shown == {"sandbox_id": sandbox_id, "status": status}, f"{verb} {path} answers {shown}", received=answer,
                documented={"sandbox_id": sandbox_id, "status": status}, source=fact(KLAVIS, f"{verb} {path}"))
        now = details(klavis, sandbox_id)
        require(now.get("status") == status and _moment(now.get("updated_at")) and _moment(before.get("updated_at"))
                and _moment(now["updated_at"]) > _moment(before["updated_at"]),
                f"GET {BASE}/{sandbox_id} after {verb} {path} shows {now.get('status')!r}, updated_at {now.get('updated_at')!r}",
                received=now, documented=f"status {status}, updated_at later than {before.get('updated_at')!r}",
                source=fact(KLAVIS, DETAILS))
        before = now
    cleanup.forget("sandbox", sandbox_id)


def test_a_dump_is_dated_after_the_last_change_keeps_its_ids_and_is_a_fixpoint(klavis, cleanup, run_prefix):
    """A dump is dated no earlier than the sandbox's last change; each memory keeps its id and times from dump to
    dump, dated by its timestamp; initializing a dump dumps the same (with new ids)."""
    sandbox_id = acquire(klavis, cleanup, f"{run_prefix}-views-d", set())
    user = f"{run_prefix}-kvuser-views"
    items = [_item("Cycles to work in Utrecht", user, 1690000000), _item("Reads sci-fi before bed", user, 1695000000)]
    expect(klavis.post(f"{BASE}/{sandbox_id}/initialize", json={"memory_list": items}), 200)
    changed = _moment(details(klavis, sandbox_id).get("updated_at"))
    dumps = [expect(klavis.get(f"{BASE}/{sandbox_id}/dump"), 200) for _ in range(2)]
    for dump in dumps:
        dumped = _moment(dump.get("dumped_at"))
        require(dumped is not None and changed is not None and dumped >= changed, f"GET {BASE}/{sandbox_id}/dump is "
                f"dated {dump.get('dumped_at')!r}, before the sandbox last changed", received=dump.get("dumped_at"),
                documented=f"no earlier than {changed}", source=fact(KLAVIS, roundtrip.DUMP))
    by_text = [{item.get("content_text"): item for item in roundtrip.memory_list(dump)} for dump in dumps]
    for text, item in by_text[0].items():
        kept = {key: item.get(key) for key in ("id", "created_at", "updated_at", "message_list", "timestamp")}
        again = {key: by_text[1].get(text, {}).get(key) for key in kept}
        require(kept == again and item.get("id") and item.get("created_at"), f"two dumps of {sandbox_id} show {text!r} "
                "with other ids, times or messages", received=again, documented=kept, source=fact(KLAVIS, roundtrip.DUMP))
        given = next(entry for entry in items if entry["message_list"][0]["content"] == text)
        require(_moment(item.get("created_at")) == datetime.fromtimestamp(given["timestamp"], UTC)
                and item.get("message_list") == given["message_list"],
                f"GET {BASE}/{sandbox_id}/dump shows {text!r} created {item.get('created_at')!r} from {item.get('message_list')}",
                received=item, documented={"created_at": given["timestamp"], "message_list": given["message_list"]},
                source=fact(KLAVIS, roundtrip.DUMP))
    expect(klavis.post(f"{BASE}/{sandbox_id}/initialize", json={"memory_list": roundtrip.memory_list(dumps[0])}), 200)
    again = expect(klavis.get(f"{BASE}/{sandbox_id}/dump"), 200)
    roundtrip.assert_equivalent(roundtrip.normalise_dump(roundtrip.memory_list(again)),
                                roundtrip.normalise_dump(roundtrip.memory_list(dumps[0])),
                                what=f"GET {BASE}/{sandbox_id}/dump after initializing its own dump")
