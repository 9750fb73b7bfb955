"""Database access: the pool, migrations, the embedded server."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# what repository functions take: a connection of their own or one borrowed from the pool
Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy
