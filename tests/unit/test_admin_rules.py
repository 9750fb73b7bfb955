"""One-time passwords and where each role starts."""

from __future__ import annotations

from clearing.api.homes import home_page
from clearing.service.accounts_admin import temporary_password
from clearing.service.principals import ROLES


def test_temporary_passwords_are_strong_and_never_repeat() -> None:
    seen = {temporary_password() for _ in range(500)}
    assert len(seen) == 500
    for pw in seen:
        assert len(pw) == 12
        assert any(c.isupper() for c in pw) and any(c.islower() for c in pw)
        assert any(c.isdigit() for c in pw)
        assert not set(pw) & set("0O1lI"), "read aloud at the counter, these get mixed up"


def test_every_role_has_a_home_it_can_use() -> None:
    homes = {role: home_page(role) for role in ROLES}
    assert homes == {
        "clerk": "/window",
        "supervisor": "/window",
        "finance": "/finance",
        "admin": "/admin",
        "auditor": "/finance",
    }
