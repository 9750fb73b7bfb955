"""Peak memory of ``tongjiao statements check`` on a 50 MB camt.053, against reading the same
file as a whole tree (lxml ``etree.parse``, what the checker did before it streamed).

    .venv/bin/python tests/bench/statement_memory.py [--mb 50]

Prints the file's size and entries, each process's peak RSS and seconds, and the ratio.
The aim (issue: parsers with bounds): under 200 MB RSS for 50 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.camt_files import write_statement  # noqa: E402

WHOLE_TREE = "import sys; from lxml import etree; etree.parse(sys.argv[1]); print('parsed')"


def _run(args: list[str]) -> tuple[int, float]:
    started = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args} failed")
    return usage.ru_maxrss // 1024, time.monotonic() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "statement.xml"
        entries = args.mb * 1024 * 1024 // 480
        size = write_statement(path, entries)
        print(f"file: {size / 2**20:.1f} MiB, {entries} entries")
        ours, ours_s = _run([sys.executable, "-m", "clearing", "statements", "check", str(path)])
        tree, tree_s = _run([sys.executable, "-c", WHOLE_TREE, str(path)])
        print(f"statements check (streaming): peak RSS {ours} MiB in {ours_s:.1f} s")
        print(f"whole tree (etree.parse only): peak RSS {tree} MiB in {tree_s:.1f} s")
        print(f"ratio ours/whole tree: {ours / tree:.2f}; aim: under 200 MiB -> "
              f"{'met' if ours < 200 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
