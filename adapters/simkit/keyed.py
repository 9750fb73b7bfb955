"""Building a simulator from the keyset it is started with (``tongjiao sim NAME --keys DIR``).

Every keyed simulator does the same before it serves: generate what is missing under DIR (its
adapter's ``generate_keyset``), then load what the outside party holds, under ``DIR/platform``
(keyfiles.py); only what it builds from those keys and its options is its own.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from adapters.simkit import MakeApp

K = TypeVar("K")

PLATFORM_DIR = "platform"  # what the party holds, beside merchant/ (ours)


def build(
    generate: Callable[[Path], object],
    load: Callable[[Path], K],
    make: Callable[[K, argparse.Namespace, str], web.Application],
) -> Callable[[argparse.Namespace], MakeApp]:
    """The ``build`` of ``simkit.run``: ``make(keys, options, public_base_url)`` serves."""

    def from_options(args: argparse.Namespace) -> MakeApp:
        generate(args.keys)
        keys = load(args.keys / PLATFORM_DIR)
        return lambda base_url: make(keys, args, base_url)

    return from_options
