"""Abuse fixtures: the cluster suite's real processes and Redis, shared here.

Each test in tests/abuse/ is one named attack with its exact expected outcome.
"""

from __future__ import annotations

from tests.cluster.conftest import (  # noqa: F401  (fixtures re-exported)
    free_port,
    node_processes,
    read_until,
    redis,
    start_node,
)
