"""Ops fixtures: the cluster suite's in-process nodes and real redis-server, shared here."""

from __future__ import annotations

from tests.cluster.conftest import redis, start_node  # noqa: F401  (fixtures re-exported)
from tests.ops.admin_kit import admin_node, sio_clients  # noqa: F401  (the Admin UI's)
