"""The client manager: python-socketio's in-memory manager with an emit that encodes
once per parser in use and writes to each recipient without a task per recipient."""

from __future__ import annotations

from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet


class FastEmitManager(socketio.AsyncManager):
    """Stock ``AsyncManager`` encodes with the server-wide parser and starts one task per
    recipient; openline clients each have their own parser, and a task per recipient
    costs more than the write it wraps."""

    async def emit(  # type: ignore[override]
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if namespace not in self.rooms:
            return
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        recipients = [(sid, eio_sid) for sid, eio_sid in self.get_participants(namespace, room)
                      if sid not in skip]
        server = self.server
        if callback is not None:
            # each recipient needs its own ack id, hence its own packet
            for sid, eio_sid in recipients:
                ack_id = self._generate_ack_id(sid, callback)
                await server._send_packet(eio_sid, server.packet_class(
                    sio_packet.EVENT, namespace=namespace, data=[event, *args], id=ack_id))
            return
        encoded: dict[type, list[eio_packet.Packet]] = {}
        for _sid, eio_sid in recipients:
            parser = server.parser_of(eio_sid)
            frames = encoded.get(parser)
            if frames is None:
                frames = encoded[parser] = server.eio_frames(parser(
                    sio_packet.EVENT, namespace=namespace, data=[event, *args]))
            for frame in frames:
                await server._send_eio_packet(eio_sid, frame)
