"""``/metrics``: Prometheus metrics, read from the server's own counts at scrape time.

A custom prometheus-client collector (``NodeCollector``) builds every family when
Prometheus scrapes, from plain ints the server keeps anyway (census.py) or the meter
counts (meter.py); no prometheus-client metric object is touched per event, so the event
path takes no lock and creates no label child. Each app has its own ``CollectorRegistry``
(two apps in one process report separately), with prometheus-client's process and GC
collectors beside ours. Served unless ``--no-metrics``; the text format, or OpenMetrics
when the scraper asks for it (prometheus-client's ``choose_encoder``).

Families (all ``openline_``):

    connected_clients{namespace,transport}       gauge   sockets connected now
    connects_total{namespace}                     counter accepted connects
    disconnects_total{namespace,reason}           counter as the disconnect handler is told
    events_received_total{namespace}              counter events that reached their handler's turn
    events_sent_total{namespace}                  counter events sent, one per recipient here
    received_bytes_total                          counter Engine.IO message bytes (no framing)
    sent_bytes_total                              counter bytes written to clients
    handler_duration_seconds{namespace}           histogram an event's handler, to its ack written
    handler_errors_total{namespace,kind}          counter exception | refused (EventError, arguments)
    acks_timed_out_total                          counter call() that got no ack in time
    send_buffer_bytes                             gauge   unsent bytes held for clients
    slow_consumer_closes_total{limit}             counter send_budget | send_grace
    redis_up, redis_published_total, redis_dropped_total    with --redis-url
    recovery_attempts_total, recovery_successes_total       with --recovery-window
    info{version,node}                            gauge   1
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import GCCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from . import census
from .meter import BOUNDS, Meter
from .node import Node

P = "openline_"


def registry_for(node: Node) -> CollectorRegistry:
    """A registry of its own for one app: ours, then the process's and GC's collectors."""
    registry = CollectorRegistry()
    registry.register(NodeCollector(node))
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def handler(registry: CollectorRegistry) -> Any:
    async def metrics(request: web.Request) -> web.Response:
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(registry), headers={
            "Content-Type": content_type, "Cache-Control": "no-store"})

    return metrics


class NodeCollector:
    """prometheus-client's collector protocol: ``collect()`` yields the families."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        node = self.node
        meter = node.meter
        assert meter is not None  # only registered with metrics on
        sio, bridge = node.sio, node.bridge
        yield from self._clients(sio)
        yield from self._namespaces(sio, meter)
        yield _counter("received_bytes", "Bytes of Engine.IO messages received from clients "
                       "(text as UTF-8; framing, pings and the bridge not counted)",
                       meter.received_bytes)
        yield _counter("sent_bytes", "Bytes written to clients: Engine.IO WebSocket frames "
                       "with their headers, long-polling bodies, bridge frames",
                       census.sent_bytes(sio, bridge))
        yield _counter("acks_timed_out", "Server call()s whose ack did not come in time",
                       getattr(sio, "calls_timed_out", 0))  # counted by realtime/acks.py
        unsent = GaugeMetricFamily(P + "send_buffer_bytes", "Bytes accepted for clients and "
                                   "not yet taken by the kernel (bounded per client by --send-budget)")
        unsent.add_metric([], census.unsent_bytes(sio, bridge))
        yield unsent
        slow = CounterMetricFamily(P + "slow_consumer_closes", "Clients closed for not "
                                   "reading, by the limit they hit", labels=["limit"])
        for limit, count in census.slow_closes(sio).items():
            slow.add_metric([limit], count)
        yield slow
        yield from self._redis_and_recovery(sio)
        info = GaugeMetricFamily(P + "info", "This server: its openline version and node id",
                                 labels=["version", "node"])
        info.add_metric([node.version, node.id], 1)
        yield info

    def _clients(self, sio: Any) -> Iterator[Metric]:
        family = GaugeMetricFamily(P + "connected_clients", "Sockets connected now, by "
                                   "namespace and transport", labels=["namespace", "transport"])
        for namespace, by_transport in census.clients(sio).items():
            for transport, count in by_transport.items():
                family.add_metric([namespace, transport], count)
        yield family

    def _namespaces(self, sio: Any, meter: Meter) -> Iterator[Metric]:
        spaces = {ns: meter.spaces.get(ns) for ns in census.namespaces(sio)} \
            | {ns: meter.spaces.get(ns) for ns in meter.sent} | meter.spaces
        connects = CounterMetricFamily(P + "connects", "Connects accepted", labels=["namespace"])
        received = CounterMetricFamily(P + "events_received", "Events from clients that "
                                       "reached their handler's turn", labels=["namespace"])
        sent = CounterMetricFamily(P + "events_sent", "Events sent to this node's clients, one "
                                   "per recipient", labels=["namespace"])
        errors = CounterMetricFamily(P + "handler_errors", "Event handlers that raised: "
                                     "exception, or refused (EventError, wrong arguments)",
                                     labels=["namespace", "kind"])
        durations = HistogramMetricFamily(P + "handler_duration_seconds", "Time from an "
                                          "event's turn to its handler's end and ack written",
                                          labels=["namespace"])
        for namespace, space in spaces.items():
            labels = [namespace]
            sent.add_metric(labels, meter.sent.get(namespace, 0))
            if space is None:
                for family in (connects, received):
                    family.add_metric(labels, 0)
                errors.add_metric([namespace, "exception"], 0)
                errors.add_metric([namespace, "refused"], 0)
                durations.add_metric(labels, _buckets([0] * (len(BOUNDS) + 1)), 0.0)
                continue
            connects.add_metric(labels, space.connects)
            received.add_metric(labels, space.received)
            errors.add_metric([namespace, "exception"], space.errors)
            errors.add_metric([namespace, "refused"], space.refusals)
            durations.add_metric(labels, _buckets(space.buckets), space.seconds)
        disconnects = CounterMetricFamily(P + "disconnects", "Disconnects, by the reason the "
                                          "disconnect handler is given", labels=["namespace", "reason"])
        for (namespace, reason), count in sorted(meter.disconnects.items()):
            disconnects.add_metric([namespace, reason], count)
        yield from (connects, disconnects, received, sent, durations, errors)

    def _redis_and_recovery(self, sio: Any) -> Iterator[Metric]:
        redis = self.node.redis
        if redis is not None:
            up = GaugeMetricFamily(P + "redis_up", "1 while publishing to and the subscription "
                                   "on --redis-url both work")
            up.add_metric([], 1 if redis.up.is_set() else 0)
            yield up
            yield _counter("redis_published", "Cross-node messages Redis took", redis.published)
            yield _counter("redis_dropped", "Cross-node messages that went nowhere (Redis away, "
                           "too late or refused as late)", redis.dropped_publishes)
        recovery = sio.recovery
        if recovery is not None:
            yield _counter("recovery_attempts", "CONNECTs that asked to recover a session",
                           recovery.attempts)
            yield _counter("recovery_successes", "Sessions recovered (same sid, rooms, data, "
                           "missed events)", recovery.successes)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(P + name, documentation, value=value)


def _buckets(counts: list[int]) -> list[tuple[str, float]]:
    """Cumulative (le, count) pairs from per-bucket counts, +Inf last."""
    out: list[tuple[str, float]] = []
    total = 0
    for bound, count in zip((*BOUNDS, float("inf")), counts, strict=True):
        total += count
        out.append(("+Inf" if bound == float("inf") else repr(bound), total))
    return out
