"""Signing in as an attacker meets it (等保三级 8.1.4.1): lockout after 5 failures, the same answer
and the same time for a name that does not exist, an admin's audited unlock, per-address throttling,
password rules and history, a forced change, idle sessions ending; every event in the audit trail.
"""

from __future__ import annotations

import itertools
import secrets
import statistics
import time
from typing import Any

import pytest

from clearing.api.keys import POOL
from clearing.service import principals
from tests.integration import login_load
from tests.integration.service_harness import Service, running_wechat_service, service_fixture

GOOD = "Window-pass-1"


# the per-address limit is high here: every test signs in from 127.0.0.1; it has its own test
svc = service_fixture("login", workers=0, login_address_max_failures=10_000)


async def _user(svc: Service, *, role: str = "clerk", must_change: bool = False) -> str:
    name = f"u{secrets.token_hex(4)}"
    async with svc.app[POOL].acquire() as conn:
        await principals.add(
            conn,
            kind="staff",
            username=name,
            display_name="测试",
            role=role,
            office="HALL1" if role in ("clerk", "supervisor") else None,
            password=GOOD,
            must_change_password=must_change,
        )
    return name


async def _login(svc: Service, username: str, password: str) -> tuple[int, Any]:
    return await svc.request(
        "POST", "/api/v1/sessions", json={"username": username, "password": password}
    )


async def _token(svc: Service, username: str, password: str = GOOD) -> str:
    status, body = await _login(svc, username, password)
    assert status == 201, body
    return str(body["token"])


async def _audit(svc: Service, username: str) -> list[str]:
    rows = await svc.app[POOL].fetch(
        "SELECT action FROM audit_log WHERE object_id = $1 ORDER BY id", username
    )
    return [r["action"] for r in rows]


async def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(
    svc: Service,
) -> None:
    name = await _user(svc)
    for attempt in range(1, 5):
        status, body = await _login(svc, name, f"wrong-{attempt}")
        assert (status, body["code"]) == (401, "LOGIN_FAILED")
        assert body["attempts_left"] == 5 - attempt
    status, body = await _login(svc, name, "wrong-5")
    assert (status, body["code"]) == (423, "ACCOUNT_LOCKED")
    assert "已锁定" in body["detail_zh"] and "30分钟" in body["detail_zh"]
    status, body = await _login(svc, name, GOOD)
    assert (status, body["code"]) == (423, "ACCOUNT_LOCKED")
    actions = await _audit(svc, name)
    assert actions.count("session.login_failed") == 6  # the refused right password too
    assert "session.locked" in actions and "session.login" not in actions


async def test_an_unknown_name_is_refused_and_locked_exactly_like_a_real_one(svc: Service) -> None:
    ghost = f"ghost{secrets.token_hex(3)}"
    answers = [await _login(svc, ghost, f"guess-{i}") for i in range(5)]
    assert [(s, b["code"]) for s, b in answers] == [(401, "LOGIN_FAILED")] * 4 + [
        (423, "ACCOUNT_LOCKED")
    ]
    assert [b.get("attempts_left") for _s, b in answers[:4]] == [4, 3, 2, 1]


async def test_an_unknown_name_takes_as_long_as_a_real_one(svc: Service) -> None:
    # interleaved, so that the machine's load falls on both alike; each name stays under the limit
    known = [await _user(svc) for _ in range(3)]
    real: list[float] = []
    ghost: list[float] = []
    for i in range(9):
        for name, into in ((known[i % 3], real), (f"nobody{secrets.token_hex(4)}", ghost)):
            started = time.perf_counter()
            status, _ = await _login(svc, name, "not-the-password")
            into.append(time.perf_counter() - started)
            assert status == 401
    # before: 10 ms against 108 ms; the password hash is what takes the time, and both pay it
    assert statistics.median(ghost) > 0.6 * statistics.median(real), (real, ghost)


async def test_an_admin_unlocks_and_the_unlock_is_audited(svc: Service) -> None:
    name = await _user(svc)
    for i in range(5):
        await _login(svc, name, f"wrong-{i}")
    admin = await _token(svc, await _user(svc, role="admin"))
    clerk = await _token(svc, await _user(svc))
    path = f"/api/v1/admin/users/{name}/unlock"
    status, body = await svc.request("POST", path, clerk)
    assert (status, body["code"]) == (403, "ROLE_FORBIDDEN")
    status, body = await svc.request("POST", path, admin)
    assert (status, body["username"], body["was_locked"]) == (200, name, True)
    assert (await _login(svc, name, GOOD))[0] == 201
    assert "principal.unlocked" in await _audit(svc, name)
    status, body = await svc.request("POST", "/api/v1/admin/users/no.such.user/unlock", admin)
    assert (status, body["code"]) == (404, "USER_NOT_FOUND")


async def test_a_lock_ends_by_itself_after_thirty_minutes(svc: Service) -> None:
    name = await _user(svc)
    for i in range(5):
        await _login(svc, name, f"wrong-{i}")
    async with svc.app[POOL].acquire() as conn:
        await conn.execute(
            "UPDATE login_locks SET locked_until = now() - interval '1 second' WHERE username = $1",
            name,
        )
        await conn.execute(
            "UPDATE login_failures SET at = at - interval '31 minutes' WHERE username = $1", name
        )
    assert (await _login(svc, name, GOOD))[0] == 201


async def test_a_success_starts_the_count_again(svc: Service) -> None:
    name = await _user(svc)
    for i in range(4):
        await _login(svc, name, f"wrong-{i}")
    await _token(svc, name)
    status, body = await _login(svc, name, "wrong-again")
    assert (status, body["attempts_left"]) == (401, 4)


async def test_login_events_are_in_the_audit_trail_with_the_address(svc: Service) -> None:
    name = await _user(svc)
    await _login(svc, name, "wrong")
    await _token(svc, name)
    rows = await svc.app[POOL].fetch(
        "SELECT action, actor, detail FROM audit_log WHERE object_id = $1"
        " AND action LIKE 'session.%' ORDER BY id",
        name,
    )
    assert [r["action"] for r in rows] == ["session.login_failed", "session.login"]
    assert all(r["detail"]["address"] == "127.0.0.1" for r in rows)
    assert rows[0]["detail"]["reason"] == "wrong_password"


async def test_weak_and_reused_passwords_are_refused_with_the_rule_in_chinese(
    svc: Service,
) -> None:
    name = await _user(svc)
    token = await _token(svc, name)

    async def change(current: str, new: str) -> tuple[int, Any]:
        return await svc.request(
            "POST",
            "/api/v1/me/password",
            token,
            json={"current_password": current, "new_password": new},
        )

    status, body = await change(GOOD, "abcdefgh")
    assert (status, body["code"]) == (422, "PASSWORD_TOO_SIMPLE")
    assert "至少8位" in body["detail_zh"]
    status, body = await change("not-mine-1A", "Better-pass-2")
    assert (status, body["code"]) == (422, "CURRENT_PASSWORD_WRONG")
    status, body = await change(GOOD, GOOD)
    assert (status, body["code"]) == (422, "PASSWORD_REUSED")
    assert "最近5次" in body["detail_zh"]
    used = [GOOD] + [f"Rotate-pass-{i}" for i in range(1, 6)]
    for old, new in itertools.pairwise(used):
        status, body = await change(old, new)
        assert status == 200, body
    # five changes later the first password may come back; the four before the last may not
    status, body = await change(used[-1], used[2])
    assert (status, body["code"]) == (422, "PASSWORD_REUSED")
    status, body = await change(used[-1], GOOD)
    assert status == 200, body
    assert (await _audit(svc, name)).count("password.changed") == 6


async def test_a_forced_change_is_the_only_thing_a_new_user_can_do(svc: Service) -> None:
    name = await _user(svc, must_change=True)
    status, body = await _login(svc, name, GOOD)
    assert (status, body["user"]["must_change_password"]) == (201, True)
    token = body["token"]
    status, body = await svc.request("GET", "/api/v1/orders?office=HALL1", token)
    assert (status, body["code"]) == (403, "PASSWORD_CHANGE_REQUIRED")
    assert "修改密码" in body["detail_zh"]
    async with svc.session.get(
        svc.base_url + "/window", headers={"Cookie": f"tj_session={token}"}, allow_redirects=False
    ) as r:
        assert (r.status, r.headers["Location"]) == (302, "/password")
    status, me = await svc.request("GET", "/api/v1/me", token)
    assert (status, me["must_change_password"]) == (200, True)
    async with svc.session.get(svc.base_url + "/password") as r:
        assert r.status == 200 and "修改密码" in await r.text()
    status, body = await svc.request(
        "POST",
        "/api/v1/me/password",
        token,
        json={"current_password": GOOD, "new_password": "Chosen-by-me-7"},
    )
    assert status == 200, body
    assert (await svc.request("GET", "/api/v1/orders?office=HALL1", token))[0] == 200
    async with svc.session.get(
        svc.base_url + "/window", headers={"Cookie": f"tj_session={token}"}, allow_redirects=False
    ) as r:
        assert r.status == 200


async def test_a_password_change_ends_the_other_sessions(svc: Service) -> None:
    name = await _user(svc)
    here, elsewhere = await _token(svc, name), await _token(svc, name)
    status, _ = await svc.request(
        "POST",
        "/api/v1/me/password",
        here,
        json={"current_password": GOOD, "new_password": "Moved-on-pass-3"},
    )
    assert status == 200
    assert (await svc.request("GET", "/api/v1/me", here))[0] == 200
    assert (await svc.request("GET", "/api/v1/me", elsewhere))[0] == 401


async def test_an_idle_session_ends_and_a_busy_one_slides(svc: Service) -> None:
    name = await _user(svc)
    idle, busy = await _token(svc, name), await _token(svc, name)
    async with svc.app[POOL].acquire() as conn:
        await conn.execute(
            "UPDATE sessions SET last_seen_at = now() - interval '31 minutes',"
            " created_at = now() - interval '2 hours'"
            " WHERE principal_id = (SELECT id FROM principals WHERE username = $1)",
            name,
        )
        # the busy one was used 29 minutes ago, and is used now: its idle clock starts again
        await conn.execute(
            "UPDATE sessions SET last_seen_at = now() - interval '29 minutes'"
            " WHERE principal_id = (SELECT id FROM principals WHERE username = $1)"
            " AND token_hash = sha256($2::text::bytea)",
            name,
            busy,
        )
    status, body = await svc.request("GET", "/api/v1/me", idle)
    assert (status, body["code"]) == (401, "TOKEN_INVALID")
    assert (await svc.request("GET", "/api/v1/me", busy))[0] == 200
    seen = await svc.app[POOL].fetchval(
        "SELECT now() - last_seen_at < interval '1 minute' FROM sessions"
        " WHERE token_hash = sha256($1::text::bytea)",
        busy,
    )
    assert seen is True


async def test_a_screen_refreshing_itself_does_not_keep_an_unattended_session_alive(
    svc: Service,
) -> None:
    name = await _user(svc)
    token = await _token(svc, name)

    async def age() -> None:
        await svc.app[POOL].execute(
            "UPDATE sessions SET last_seen_at = now() - interval '10 minutes'"
            " WHERE token_hash = sha256($1::text::bytea)",
            token,
        )

    await age()
    # the page reloads on its timer; nobody has touched the keyboard for 10 minutes
    status, _ = await svc.request("GET", "/api/v1/me", token, headers={"X-User-Idle-S": "600"})
    assert status == 200
    idle = await svc.app[POOL].fetchval(
        "SELECT now() - last_seen_at > interval '9 minutes' FROM sessions"
        " WHERE token_hash = sha256($1::text::bytea)",
        token,
    )
    assert idle is True
    # the clerk clicks: the clock starts again
    status, _ = await svc.request("GET", "/api/v1/me", token, headers={"X-User-Idle-S": "2"})
    idle = await svc.app[POOL].fetchval(
        "SELECT now() - last_seen_at > interval '9 minutes' FROM sessions"
        " WHERE token_hash = sha256($1::text::bytea)",
        token,
    )
    assert (status, idle) == (200, False)


async def test_many_failures_from_one_address_are_throttled(
    db_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("throttle")
    async with running_wechat_service(db_dsn, tmp, workers=0, login_address_max_failures=6) as s:
        # the earlier tests failed from this address too: their failures are older than 15 minutes
        await s.app[POOL].execute("UPDATE login_failures SET at = at - interval '16 minutes'")
        # a different name each time: the per-account lock never trips, the address limit does
        codes = [
            (await _login(s, f"spray{secrets.token_hex(4)}", "x"))[1]["code"] for _ in range(7)
        ]
        assert codes[:6] == ["LOGIN_FAILED"] * 6
        status, body = await _login(s, f"spray{secrets.token_hex(4)}", "x")
        assert (status, body["code"]) == (429, "LOGIN_RATE_LIMITED")
        assert "稍后" in body["detail_zh"]


def _fast_enough(f: login_load.Figures) -> bool:
    """The target (median and p99 under 20 ms, with a margin over the quiet p99), or, on a
    machine too busy for that, no slower than the same load answered without any hash."""
    loaded = f.loaded.healthz
    if len(loaded) < 100:  # a stalled loop answers few checks in the 10 s the probe is given
        return False
    p50, p99 = statistics.median(loaded), login_load.pct(loaded, 0.99)
    if p50 < 0.020 and p99 < max(0.020, 3 * login_load.pct(f.quiet.healthz, 0.99) + 0.010):
        return True
    assert f.control is not None
    c50, c99 = statistics.median(f.control.healthz), login_load.pct(f.control.healthz, 0.99)
    return p50 < 2 * c50 + 0.005 and p99 < 2 * c99 + 0.020


async def test_healthz_stays_fast_while_wrong_logins_arrive(
    db_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """/healthz (and /notify, on the same loop) answer while 50 wrong sign-ins a second arrive
    for a real user. Lockout and throttling are off here, so that every attempt costs a hash.

    Before, each hash stalled the loop (118 ms median). Target: p99 under 20 ms. On a shared
    2-core machine the loop's share of the CPU can fall below what 50 requests a second need,
    hash or no hash; so the control is the same load of wrong sign-ins for a locked name
    (answered without a hash), and a run passes at the target or no slower than its control.
    The measurement may be taken three times: a stalled loop fails every one by a wide margin.
    """
    tmp = tmp_path_factory.mktemp("load")
    off: dict[str, Any] = {"login_max_failures": 1_000_000, "login_address_max_failures": 1_000_000}
    runs: list[list[str]] = []
    async with running_wechat_service(db_dsn, tmp, workers=0, **off) as s:
        name, locked = await _user(s), await _user(s)
        await s.app[POOL].execute(
            "INSERT INTO login_locks (username, locked_until)"
            " VALUES ($1, now() + interval '1 hour')",
            locked,
        )
        for _ in range(3):
            figures = await login_load.measure(s.base_url, name, control_username=locked)
            runs.append(figures.lines())
            assert figures.control is not None
            assert set(figures.control.answers) == {423}, runs
            # the sign-ins really ran: refused as wrong (401) or, past the pool's queue, busy (503)
            assert set(figures.loaded.answers) <= {401, 503}, runs
            assert figures.loaded.answers[401] >= 5, runs
            if _fast_enough(figures):
                return
    pytest.fail(f"/healthz slowed by wrong sign-ins in three runs: {runs}")
