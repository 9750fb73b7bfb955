"""A local high-availability deployment: etcd, PostgreSQL under Patroni, HAProxy, service nodes.

See ``docs/ops/cluster.md``; started by ``ops/cluster``.
"""
