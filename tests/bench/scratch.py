"""How every benchmark runs: in a scratch folder of its own, removed afterwards.

Each benchmark's ``main`` parses its options, then hands its coroutine to ``in_scratch``: the
folder holds the benchmark's database cluster, keys and files, and is removed whatever happens, so
an interrupted run leaves nothing behind in /tmp.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any


def in_scratch(prefix: str, bench: Callable[[Path], Coroutine[Any, Any, int]]) -> int:
    """Run ``bench(root)`` on a new event loop in a fresh folder; return its exit code."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return asyncio.run(bench(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
