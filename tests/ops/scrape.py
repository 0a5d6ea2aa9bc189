"""Reading /metrics as Prometheus does (prometheus-client's own parser) and /status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import UNIT

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


async def scrape(url: str) -> Samples:
    """Every sample of ``url``/metrics, by (name, sorted labels)."""
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[key(sample.name, **sample.labels)] = sample.value
    return samples


def deltas(before: Samples, after: Samples, prefix: str = "openline_") -> Samples:
    """The samples that changed between two scrapes (new ones count from 0)."""
    return {k: after[k] - before.get(k, 0.0) for k in after
            if k[0].startswith(prefix) and after[k] != before.get(k, 0.0)}


async def until(check: Callable[[], Any], what: str, timeout: float = 5) -> Any:
    """Poll the coroutine function ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout * UNIT
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout * UNIT}s")
        await asyncio.sleep(0.02)


async def get_json(url: str, path: str, accept: str = "application/json") -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url + path, headers={"Accept": accept}) as r:
        return r.status, await r.json()
