"""The names a scrape of the service can contain, from its own registry (clearing/metrics.py)."""

from __future__ import annotations

from clearing.metrics import Metrics

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


def exposed_metric_names() -> set[str]:
    out: set[str] = set()
    for family in Metrics().registry.collect():
        for suffix in _SUFFIXES[family.type]:
            out.add(family.name + suffix)
    return out
