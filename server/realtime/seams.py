"""Every python-socketio / python-engineio name openline relies on beyond their public API.

For python-socketio 5.18 and python-engineio 4.15 (setup.cfg pins both). tests/unit/test_seams.py
checks each entry of ``SEAMS`` and ``ENGINE_SURFACE`` against the installed libraries and against
openline's code: an upgrade that removes or renames a name fails there, naming the seam and why;
so does an entry openline no longer touches, and a private python-socketio name used in server/
that is not listed here. Paths are under server/, the package openline.

Overridden: openline's class defines python-socketio's private name, and python-socketio calls it
- socketio.AsyncServer._engineio_server_class (realtime/server.py): python-socketio builds our Engine
- socketio.AsyncServer._send_packet (realtime/server.py): per-client parser, straight to the session
- socketio.AsyncServer._send_eio_packet (realtime/server.py): holds connect-handler emits; bridges
- socketio.AsyncServer._handle_eio_connect (realtime/server.py): stock's, then the CONNECT deadline
- socketio.AsyncServer._handle_eio_disconnect (realtime/server.py): stock's, then openline's state
- socketio.AsyncServer._handle_eio_message (realtime/server.py): openline's packet checks and limits
- socketio.AsyncServer._handle_connect (realtime/connect.py): namespace refusals, ordered on_connect
- socketio.AsyncServer._trigger_event (realtime/server.py): a failing disconnect handler is logged
- socketio.BaseServer._get_namespace_handler (realtime/namespaces.py): patterns between exact and "*"
- socketio.AsyncServer._handle_event (realtime/events.py): ordered steps, back-pressure, rate limit
- socketio.AsyncServer._handle_event_internal (realtime/events.py): error replies, the direct ack
- socketio.Packet._deconstruct_binary_internal (realtime/parsers.py): bytes inside tuples, memoryviews too
- socketio.Packet._to_dict (realtime/parsers.py): msgpack packets leave out data when there is none
- socketio.AsyncPubSubManager._handle_emit (cluster/redis_manager.py): exact args, local delivery
- socketio.AsyncPubSubManager._publish (cluster/redis_manager.py): a batching queue, never fails
- socketio.AsyncPubSubManager._listen (cluster/redis_manager.py): resubscribes; unpacks batches

Called or read: openline uses python-socketio's private name
- socketio.AsyncServer._handle_ack (realtime/server.py, bridge/sessions.py): a client's ACK
- socketio.AsyncServer._handle_disconnect (realtime/server.py): a client's DISCONNECT packet
- socketio.AsyncServer._trigger_event (realtime/events.py): handler set-ups the fast path leaves
- socketio.BaseServer._binary_packet (realtime/server.py, events.py, binary_fast.py): a packet awaiting
  attachments
- socketio.BaseManager._generate_ack_id (realtime/manager.py, cluster/): an emit's ack id
- socketio.AsyncPubSubManager._thread (cluster/redis_manager.py): stock's listener loop
- socketio.AsyncPubSubManager._return_callback (cluster/redis_manager.py): a remote emit's ack

Public names relied on in a fragile way
- socketio.BaseServer.__init__ (realtime/server.py): serializer= a class; other keywords reach Engine
- socketio.BaseServer.reason (realtime/server.py, bridge/): Engine.reason must carry the same strings
- socketio.BaseServer.environ (realtime/server.py, events.py): the "session still open" test
- socketio.BaseServer.handlers (realtime/events.py): handlers[namespace][event], as stock looks up
- socketio.BaseServer.namespace_handlers (realtime/events.py, namespaces.py): exact and "*" only
- socketio.BaseServer.register_namespace (realtime/namespaces.py): stock files it; patterns move out
- socketio.BaseServer.not_handled (realtime/events.py): no handler ran, so no ack
- socketio.BaseServer.manager_initialized (app.py): RedisManager starts before the first client
- socketio.AsyncNamespace.trigger_event (realtime/events.py): kept by a class: openline repeats it
- socketio.BaseManager.rooms (realtime/manager.py): namespace -> room -> bidict sid <-> eio_sid
- socketio.BaseManager.pending_connect (realtime/manager.py): sets, not lists: stock's users overridden
- socketio.BaseManager.pending_disconnect (realtime/manager.py): likewise
- socketio.BaseManager.callbacks (realtime/manager.py, cluster/): {0: id counter, ack id: callback}
- socketio.BaseManager.basic_enter_room (realtime/manager.py): the one way into a room
- socketio.BaseManager.basic_leave_room (realtime/manager.py): the one way out of a room
- socketio.AsyncServer.emit (realtime/server.py): replaced: no INFO log call per emit
- socketio.AsyncServer.call (realtime/server.py): replaced: no task per call (realtime/acks.py)
- socketio.AsyncServer.start_background_task (realtime/server.py): tasks run in a write scope
- socketio.AsyncPubSubManager.initialize (cluster/redis_manager.py): replaced: our own tasks
- socketio.AsyncPubSubManager.emit (cluster/redis_manager.py): replaced: local first, then queued
- socketio.AsyncPubSubManager.thread (cluster/redis_manager.py): the listener task, cancelled by stop
- socketio.AsyncRedisManager.redis (cluster/redis_manager.py): the client start() made (net/redis_url.py)
- socketio.AsyncRedisManager.pubsub (cluster/redis_manager.py): its pub/sub connection
- socketio.Packet.json (realtime/parsers.py): the json module Packet.encode/decode call: orjson
- socketio.Packet.data_is_binary (realtime/parsers.py): Packet.__init__ asks it: iterative, tuples
- socketio.Packet.uses_binary_events (bridge/envelope.py): False: bridge packets stay EVENT/ACK
- socketio.Packet.attachment_count (realtime/server.py): checked before any attachment is buffered
- socketio.Packet.deconstruct_binary (cluster/messages.py): pub/sub's base64 attachments
- socketio.Packet.reconstruct_binary (cluster/messages.py): and back
- engineio.AsyncServer.sockets (realtime/server.py): sessions, when python-engineio is the engine
- engineio.AsyncSocket.close (realtime/server.py): close(wait=False, reason=...): no GET awaited
- engineio.BaseServer.reason (realtime/server.py): SERVER_DISCONNECT for python-engineio's close

Mirrored: openline repeats python-socketio's logic; re-read it when upgrading
- socketio.BaseServer._get_event_handler (realtime/events.py): openline's _handler_for, _run_handler
- socketio.Packet.decode (realtime/events.py, protocol_v4.py, binary_fast.py): EVENT packets and
  binary headers alike; CONNECT's query
- socketio.Packet.encode (realtime/events.py, protocol_v4.py, parsers.py): EVENT/ACK and their binary
  forms alike; v4-protocol CONNECT
- socketio.Packet.add_attachment (realtime/binary_fast.py): Assembly completes and refuses as Packet does
- socketio.Packet.reconstruct_binary (realtime/binary_fast.py): placeholders replaced as stock does
- socketio.Packet._deconstruct_binary_internal (realtime/parsers.py): binary_frames walks as JsonPacket

The engine surface: what python-socketio calls on ``self.eio``, openline's Engine (engine/server.py)
- on, attach, send, send_packet, get_session, transport, shutdown, handle_request,
  start_background_task, sleep, create_event, generate_id, async_mode

Not covered: python-socketio's admin UI (``instrument()``) reads python-engineio privates
(``_ok``, ``_get_socket``) that Engine lacks; aiohttp's private names (engine/, net/, bridge/)
are another library's seams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["override", "call", "public", "mirror"]

SERVER = "socketio.async_server.AsyncServer"
BASE_SERVER = "socketio.base_server.BaseServer"
BASE_MANAGER = "socketio.base_manager.BaseManager"
PUBSUB = "socketio.async_pubsub_manager.AsyncPubSubManager"
REDIS = "socketio.async_redis_manager.AsyncRedisManager"
PACKET = "socketio.packet.Packet"
NAMESPACE = "socketio.async_namespace.AsyncNamespace"


@dataclass(frozen=True, slots=True)
class Seam:
    """One name of python-socketio's (or python-engineio's) that openline depends on.

    ``where``: "file.py Qualified.name" under server/, several joined by "; "; a file
    alone means its module level. For an override the first is openline's definition.
    ``params``: the stock callable's parameter names (self excluded) openline's calls rely on.
    """

    owner: str  # module.Class in python-socketio / python-engineio
    name: str
    kind: Kind
    where: str
    why: str
    params: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        """``socketio.AsyncServer._send_packet``: the name the docstring lists."""
        top = self.owner.split(".", 1)[0]
        return f"{top}.{self.owner.rsplit('.', 1)[1]}.{self.name}"


@dataclass(frozen=True, slots=True)
class EngineName:
    """A name python-socketio uses on its engine (``self.eio``), which openline's Engine provides."""

    name: str
    caller: str  # python-socketio's module and function


SEAMS: tuple[Seam, ...] = (
    # --- overridden --------------------------------------------------------------
    Seam(SERVER, "_engineio_server_class", "override",
         "realtime/server.py OpenlineServer._engineio_server_class",
         "BaseServer.__init__ builds self.eio from it: openline's Engine, not python-engineio's "
         "(there is no public engine argument)"),
    Seam(SERVER, "_send_packet", "override",
         "realtime/server.py OpenlineServer._send_packet; "
         "realtime/events.py EventPath._send_direct; bridge/sessions.py BridgeSession._read",
         "stock encodes with the server-wide packet_class; openline re-encodes for each client's "
         "own parser and writes straight to its Engine session"),
    Seam(SERVER, "_send_eio_packet", "override",
         "realtime/server.py OpenlineServer._send_eio_packet; realtime/manager.py FastEmitManager.emit",
         "frames emitted inside a connect handler are held until the CONNECT ack, and a bridge "
         "session's go to the bridge, not the engine"),
    Seam(SERVER, "_handle_eio_connect", "override",
         "realtime/server.py OpenlineServer._handle_eio_connect; bridge/sessions.py BridgeSession.run",
         "stock's (environ, manager start), then the --connect-timeout deadline; bridge sessions "
         "enter through it too"),
    Seam(SERVER, "_handle_eio_disconnect", "override",
         "realtime/server.py OpenlineServer._handle_eio_disconnect; bridge/sessions.py BridgeSession.run",
         "stock's, then openline's per-session state goes (held frames, steps, rate bucket, bridge)"),
    Seam(SERVER, "_handle_eio_message", "override",
         "realtime/server.py OpenlineServer._handle_eio_message",
         "replaces stock's dispatch: parser detection, packet rules, depth and attachment limits; "
         "a malformed packet closes the connection"),
    Seam(SERVER, "_handle_connect", "override",
         "realtime/connect.py ConnectPath._handle_connect; bridge/sessions.py BridgeSession.run; "
         "realtime/protocol_v4.py opened",
         "replaces stock's: 'Invalid namespace', --max-namespaces, on_connect queued in the "
         "client's steps; returns the future a bridge awaits"),
    Seam(SERVER, "_trigger_event", "override",
         "realtime/server.py OpenlineServer._trigger_event; realtime/server.py "
         "OpenlineServer._left_during_connect",
         "a disconnect handler's exception is logged instead of escaping the engine's close"),
    Seam(BASE_SERVER, "_get_namespace_handler", "override",
         "realtime/namespaces.py NamespacePaths._get_namespace_handler",
         "stock's _trigger_event finds a namespace object through it (exact, then '*' with the "
         "namespace put first): openline's puts the pattern namespaces between the two",
         ("namespace", "args")),
    Seam(SERVER, "_handle_event", "override",
         "realtime/events.py EventPath._handle_event; realtime/server.py OpenlineServer._dispatch; "
         "bridge/sessions.py BridgeSession._read",
         "an event is queued in the client's ordered steps (back-pressure, --rate-limit) instead "
         "of a task per event"),
    Seam(SERVER, "_handle_event_internal", "override",
         "realtime/events.py EventPath._handle_event_internal; realtime/events.py EventPath._take_event",
         "replaces stock's: 'error' events, EventError and exception replies, the argument-count "
         "check, the ack written directly"),
    Seam(PACKET, "_deconstruct_binary_internal", "override",
         "realtime/parsers.py JsonPacket._deconstruct_binary_internal",
         "tuples become lists, so bytes inside tuples become attachments; stock's "
         "deconstruct_binary recurses through cls"),
    Seam(PACKET, "_to_dict", "override",
         "realtime/parsers.py MsgPackPacket._to_dict; realtime/parsers.py MsgPackPacket.encode",
         "shadows stock's: no data member when there is none and nsp '/' by default, as "
         "socket.io-msgpack-parser wants"),
    Seam(PUBSUB, "_handle_emit", "override",
         "cluster/redis_manager.py RedisManager._handle_emit",
         "stock's _thread hands it other nodes' emits: exact argument lists (the args key), "
         "delivered by FastEmitManager.emit"),
    Seam(PUBSUB, "_publish", "override",
         "cluster/redis_manager.py RedisManager._publish; cluster/redis_manager.py RedisManager.emit",
         "stock's disconnect, enter_room, leave_room, close_room and _return_callback publish "
         "through it: a batching queue that never fails them"),
    Seam(PUBSUB, "_listen", "override",
         "cluster/redis_manager.py RedisManager._listen",
         "stock's _thread reads the channel through it: resubscribes with backoff, waits for the "
         "confirmation, unpacks batches, skips its own"),
    # --- called or read ----------------------------------------------------------
    Seam(SERVER, "_handle_ack", "call",
         "realtime/server.py OpenlineServer._dispatch; bridge/sessions.py BridgeSession._read",
         "a client's ACK reaches manager.trigger_callback (no public entry for it)",
         ("eio_sid", "namespace", "id", "data")),
    Seam(SERVER, "_handle_disconnect", "call",
         "realtime/server.py OpenlineServer._dispatch",
         "a client's DISCONNECT packet: on_disconnect runs and the sid leaves the manager",
         ("eio_sid", "namespace", "reason")),
    Seam(SERVER, "_trigger_event", "call",
         "realtime/events.py",
         "_SIO_TRIGGER_EVENT: handler set-ups openline's fast path does not resolve itself "
         "(decorators, catch-alls, a custom trigger_event)",
         ("event", "namespace", "args")),
    Seam(BASE_SERVER, "_binary_packet", "call",
         "realtime/server.py OpenlineServer._dispatch; realtime/server.py "
         "OpenlineServer._handle_eio_message; realtime/events.py EventPath._take_message; "
         "realtime/binary_fast.py take_header; realtime/binary_fast.py take_attachment",
         "eio_sid -> the BINARY_EVENT/ACK awaiting attachments (stock's Packet or openline's "
         "Assembly); stock's disconnect clears it"),
    Seam(BASE_MANAGER, "_generate_ack_id", "call",
         "realtime/manager.py FastEmitManager.emit; cluster/redis_manager.py RedisManager.emit",
         "an emit with a callback gets its ack id in stock's callbacks table, where "
         "trigger_callback finds it", ("sid", "callback")),
    Seam(PUBSUB, "_thread", "call",
         "cluster/redis_manager.py RedisManager.initialize",
         "stock's listener loop: parses messages (dicts too) and dispatches each method; openline "
         "runs it as its own task", ()),
    Seam(PUBSUB, "_return_callback", "call",
         "cluster/redis_manager.py RedisManager._handle_emit",
         "the callback of a remote emit's ack: answered here or published to the emitting node",
         ("host_id", "sid", "namespace", "callback_id", "args")),
    # --- public, relied on in a fragile way --------------------------------------------
    Seam(BASE_SERVER, "__init__", "public",
         "realtime/server.py OpenlineServer.__init__",
         "serializer= takes a Packet subclass, and keywords it does not know (config=) reach the "
         "engine class", ("client_manager", "logger", "serializer", "json", "async_handlers",
                          "always_connect", "namespaces", "kwargs")),
    Seam(BASE_SERVER, "reason", "public",
         "realtime/server.py OpenlineServer._dispatch; bridge/sessions.py BridgeSession.run",
         "engineio.Server.reason: openline's Engine.reason must carry the same strings, which "
         "disconnect handlers see"),
    Seam(BASE_SERVER, "environ", "public",
         "realtime/server.py OpenlineServer._handle_eio_message; realtime/events.py EventPath._take_message",
         "eio_sid in environ is openline's 'session still open' test: stock's _handle_eio_connect "
         "sets it, _handle_eio_disconnect deletes it"),
    Seam(BASE_SERVER, "handlers", "public",
         "realtime/events.py EventPath._handler_for; realtime/namespaces.py NamespacePaths.serves",
         "handlers[namespace][event], looked up as stock's _get_event_handler does"),
    Seam(BASE_SERVER, "namespace_handlers", "public",
         "realtime/events.py EventPath._run_handler; realtime/namespaces.py NamespacePaths.serving; "
         "realtime/namespaces.py NamespacePaths.register_namespace",
         "namespace_handlers[namespace] (and stock's '*' key), looked up as stock's "
         "_get_namespace_handler does; patterns are not kept in it"),
    Seam(BASE_SERVER, "register_namespace", "public",
         "realtime/namespaces.py NamespacePaths.register_namespace",
         "stock's files a namespace object under namespace_handlers[ns.namespace] and sets its "
         "server; openline's then moves a pattern's out, to its own list", ("namespace_handler",)),
    Seam(BASE_SERVER, "not_handled", "public",
         "realtime/events.py EventPath._handle_event_internal",
         "_trigger_event's answer when no handler ran: then no ack is sent"),
    Seam(BASE_SERVER, "manager_initialized", "public",
         "app.py _cluster",
         "set before RedisManager.start(), so stock's _handle_eio_connect does not initialize "
         "the manager again"),
    Seam(NAMESPACE, "trigger_event", "public",
         "realtime/events.py; realtime/events.py EventPath._run_handler",
         "_NAMESPACE_TRIGGER: a namespace class that keeps stock's dispatch gets openline's fast "
         "path, which repeats it (on_<event>, awaited if a coroutine, CancelledError -> None)"),
    Seam(BASE_MANAGER, "rooms", "public",
         "realtime/manager.py FastEmitManager._has_sid; realtime/manager.py FastEmitManager.get_rooms; "
         "realtime/server.py OpenlineServer._namespace_count",
         "rooms[namespace][room] is a bidict sid <-> eio_sid, room None holding every connected "
         "sid: stock and the pub/sub managers read this shape"),
    Seam(BASE_MANAGER, "pending_connect", "public",
         "realtime/manager.py FastEmitManager.pre_connect; realtime/manager.py FastEmitManager.is_connected",
         "openline keeps sets, not stock's lists: every stock manager method touching them must "
         "be FastEmitManager's"),
    Seam(BASE_MANAGER, "pending_disconnect", "public",
         "realtime/manager.py FastEmitManager.pre_disconnect; realtime/manager.py "
         "FastEmitManager.basic_disconnect",
         "sets, as pending_connect"),
    Seam(BASE_MANAGER, "callbacks", "public",
         "realtime/manager.py FastEmitManager.basic_disconnect; cluster/redis_manager.py "
         "RedisManager._forget_ack",
         "callbacks[sid] = {0: id counter, ack id: callback}, the layout of stock's "
         "_generate_ack_id"),
    Seam(BASE_MANAGER, "basic_enter_room", "public",
         "realtime/manager.py FastEmitManager.basic_enter_room",
         "_memberships, the reverse room index, is kept here: every stock write into rooms must "
         "go through it or be FastEmitManager's"),
    Seam(BASE_MANAGER, "basic_leave_room", "public",
         "realtime/manager.py FastEmitManager.basic_leave_room",
         "and here, for every removal from rooms"),
    Seam(PUBSUB, "initialize", "public",
         "cluster/redis_manager.py RedisManager.initialize",
         "replaced, not extended: the listener and publisher are openline's own tasks (the "
         "engine's shutdown waits for its tasks)"),
    Seam(SERVER, "emit", "public",
         "realtime/server.py OpenlineServer.emit",
         "replaced: stock's minus its INFO log call per emit; the manager's emit does the rest"),
    Seam(SERVER, "call", "public",
         "realtime/server.py OpenlineServer.call",
         "replaced: the same checks, result and TimeoutError, without wait_for's task; the ACK "
         "of a call is settled as it is parsed (realtime/acks.py)"),
    Seam(SERVER, "start_background_task", "public",
         "realtime/server.py OpenlineServer.start_background_task",
         "extended: a coroutine task runs in a write scope (realtime/write_scope.py)"),
    Seam(PUBSUB, "emit", "public",
         "cluster/redis_manager.py RedisManager.emit",
         "replaced, not extended: local clients first, then one queued message with exact "
         "args; emits to a local sid stay local"),
    Seam(PUBSUB, "thread", "public",
         "cluster/redis_manager.py RedisManager.initialize; cluster/redis_manager.py RedisManager.stop",
         "the listener task's name in stock's initialize; openline sets it and stop() cancels it"),
    Seam(REDIS, "redis", "public",
         "cluster/redis_manager.py RedisManager._send; cluster/redis_manager.py RedisManager.stop",
         "the client start() built (net/redis_url.py): PUBLISH, TIME, PING"),
    Seam(REDIS, "pubsub", "public",
         "cluster/redis_manager.py RedisManager._listen; cluster/redis_manager.py RedisManager.stop",
         "the pub/sub connection start() built"),
    Seam(PACKET, "json", "public",
         "realtime/parsers.py JsonPacket; cluster/redis_manager.py RedisManager.set_server",
         "the module Packet.encode/decode call (dumps with separators=, loads): orjson's; "
         "set_server copies it to manager.json"),
    Seam(PACKET, "data_is_binary", "public",
         "realtime/parsers.py JsonPacket.data_is_binary; cluster/messages.py emit_message",
         "Packet.__init__ asks it whether EVENT is BINARY_EVENT: iterative, and tuples count"),
    Seam(PACKET, "uses_binary_events", "public",
         "bridge/envelope.py BridgePacket",
         "False keeps Packet.__init__ from turning a bridge's EVENT/ACK into BINARY_*"),
    Seam(PACKET, "attachment_count", "public",
         "realtime/server.py OpenlineServer._dispatch",
         "set by Packet.__init__ from decode(): held to --max-attachments before any is buffered"),
    Seam(PACKET, "deconstruct_binary", "public",
         "cluster/messages.py emit_message",
         "bytes travel as base64 attachments in pub/sub messages, as stock's emit sends them"),
    Seam(PACKET, "reconstruct_binary", "public",
         "cluster/messages.py message_args",
         "and come back from them"),
    Seam("engineio.async_server.AsyncServer", "sockets", "public",
         "realtime/server.py OpenlineServer._session_of; realtime/server.py OpenlineServer._close_session",
         "the sessions table when python-engineio is the engine (tests swap it in)"),
    Seam("engineio.async_socket.AsyncSocket", "close", "public",
         "realtime/server.py OpenlineServer._close_session",
         "close(wait=False): stock disconnect() waits for a GET, hanging a POST that broke the "
         "protocol", ("wait", "abort", "reason")),
    Seam("engineio.base_server.BaseServer", "reason", "public",
         "realtime/server.py OpenlineServer._close_session",
         "SERVER_DISCONNECT for python-engineio's close; Engine.reason carries the same strings"),
    # --- mirrored ----------------------------------------------------------------
    Seam(BASE_SERVER, "_get_event_handler", "mirror",
         "realtime/events.py EventPath._handler_for; realtime/events.py EventPath._run_handler",
         "openline finds handlers[namespace][event] itself; catch-alls go to stock"),
    Seam(PACKET, "decode", "mirror",
         "realtime/parsers.py decode_json_event; realtime/protocol_v4.py LegacyPacket.decode; "
         "realtime/binary_fast.py decode_header",
         "an EVENT packet's namespace, id (up to 100 digits) and JSON data, read as stock reads them; "
         "a v4-protocol CONNECT's query, which stock cuts off the namespace at '?'; a binary "
         "header's attachment count (up to 10 digits, before the first '-')"),
    Seam(PACKET, "encode", "mirror",
         "realtime/events.py EventPath._direct_frame; realtime/protocol_v4.py LegacyPacket.encode; "
         "realtime/parsers.py binary_frames",
         "'4' + type + namespace + ',' + id + JSON, and msgpack's type/nsp/data/id map; CONNECT "
         "and CONNECT_ERROR in Socket.IO protocol v4's forms; '5N-'/'6N-' binary headers"),
    Seam(PACKET, "add_attachment", "mirror",
         "realtime/binary_fast.py Assembly.add_attachment; realtime/binary_fast.py take_attachment",
         "a binary packet completes with its count of attachments; one more is refused"),
    Seam(PACKET, "reconstruct_binary", "mirror",
         "realtime/binary_fast.py reconstruct",
         "a truthy '_placeholder' with a 'num' becomes attachments[num], in lists and dicts"),
    Seam(PACKET, "_deconstruct_binary_internal", "mirror",
         "realtime/parsers.py _deconstruct",
         "the same walk (JsonPacket's: tuples and memoryviews too), the same placeholders, in order"),
)

ENGINE_SURFACE: tuple[EngineName, ...] = (
    EngineName("on", "socketio/base_server.py BaseServer.__init__: connect, message, disconnect"),
    EngineName("async_mode", "socketio/base_server.py BaseServer.__init__"),
    EngineName("transport", "socketio/base_server.py BaseServer.transport"),
    EngineName("attach", "socketio/async_server.py AsyncServer.attach"),
    EngineName("create_event", "socketio/async_server.py AsyncServer.call"),
    EngineName("get_session", "socketio/async_server.py AsyncServer.get_session, save_session"),
    EngineName("shutdown", "socketio/async_server.py AsyncServer.shutdown"),
    EngineName("handle_request", "socketio/async_server.py AsyncServer.handle_request"),
    EngineName("start_background_task", "socketio/async_server.py AsyncServer.start_background_task"),
    EngineName("sleep", "socketio/async_server.py AsyncServer.sleep"),
    EngineName("send", "socketio/async_server.py AsyncServer._send_packet (overridden)"),
    EngineName("send_packet", "socketio/async_server.py AsyncServer._send_eio_packet (overridden)"),
    EngineName("generate_id", "socketio/base_manager.py BaseManager.pre_connect (server.eio)"),
)
