"""Where each role starts after signing in: a page it can use, never a form that answers 403.

Clerks and supervisors take payments at a window; finance staff approve refunds and work the
settlement and reconciliation on /finance; auditors read that same page, which offers them no
decision buttons; administrators keep users, offices, windows and the fee schedule on /admin.
"""

from __future__ import annotations

HOME_PAGES = {
    "clerk": "/window",
    "supervisor": "/window",
    "finance": "/finance",
    "auditor": "/finance",
    "admin": "/admin",
}


def home_page(role: str) -> str:
    return HOME_PAGES.get(role, "/window")
