"""``Answer``: the engine's text responses over HTTP (long-polling payloads, the POST
``ok``, refusals), written in one piece.

aiohttp's ``web.Response`` takes a dozen calls and coroutines from the handler's return
to the socket: ``Response.__init__`` (argument checks, a header copy), then
``prepare`` -> ``_start`` -> ``_prepare_headers`` -> the request's prepare hook, which
sends the app's ``on_response_prepare`` signal (``Server: openline``,
net/http_guard.py) -> ``_write_headers`` -> ``StreamWriter.write_headers``, then
``write_eof`` -> ``StreamWriter.write_eof`` -> ``_send_headers_with_payload``. On the
poll_echo profile (py-spy) that was ~16% of the server's time (prepare 5.8%, write_eof
4.3%, the header writing ~4%, ``__init__`` 3.1%) for a response of five headers, and
aiohttp has no leaner response. ``Answer`` is a ``web.Response`` (everything reading or
changing one works on it) whose ``prepare`` builds the same head with aiohttp's own
header serializer (the same bytes, the same header-injection check) and writes head and
body with the request's writer, as aiohttp would in ``write_eof``. Counted by callgrind:
a refused request 164,200 -> 125,200 instructions, bench/icount_poll.py 101,100 -> 94,000
per reply (bench/RESULTS.md).

It writes the head itself only where aiohttp would write exactly that head: the response
is plain (no cookie jar, no ``enable_compression``, no chunking, no Content-Length set
by hand: aiohttp cuts the body to it, a body allowed for this method and status), the writer is
aiohttp's with nothing hooked to it, and the app's ``on_response_prepare`` signal is
empty (``Server`` is aiohttp's default then) or only ``name_server`` (``Server:
openline``). Anything else (a plugin's own signal, a sub-app, HEAD) goes through
aiohttp's ``prepare`` unchanged.
"""

from __future__ import annotations

from typing import Any

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.compression_utils import MAX_SYNC_CHUNK_SIZE
from aiohttp.helpers import must_be_empty_body, rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE, HttpVersion10, HttpVersion11, StreamWriter
from aiohttp.http_writer import _serialize_headers
from aiohttp.web_response import REASON_PHRASES
from multidict import CIMultiDict

from ..net.http_guard import SERVER_NAME, name_server

TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"
JSON = "application/json"


class Answer(web.Response):
    """A complete ``web.Response`` of ``body`` (bytes) with ``Content-Type:
    content_type`` after ``headers`` (module docstring)."""

    _zlib_executor: Any = None  # what Response.__init__ would set; read only by compression
    _zlib_executor_size: int = MAX_SYNC_CHUNK_SIZE

    def __init__(self, body: bytes, content_type: str, headers: dict[str, str] | None = None,
                 status: int = 200) -> None:
        # Response.__init__'s result for (body=, content_type=, headers=), without its checks
        real: CIMultiDict[str] = CIMultiDict(headers) if headers else CIMultiDict()
        real[hdrs.CONTENT_TYPE] = content_type
        self._headers = real
        self._state = {}
        self._status = status
        self._reason = REASON_PHRASES.get(status, "")
        self._body = body

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if self._eof_sent:
            return None
        if self._payload_writer is not None:
            return self._payload_writer
        server = _server_header(request)
        writer = request._payload_writer
        body = self._body
        headers = self._headers
        if server is None or self._cookies or self._compression or self._chunked \
                or hdrs.CONTENT_LENGTH in headers \
                or type(writer) is not StreamWriter or writer._on_headers_sent is not None \
                or writer._on_chunk_sent is not None or writer.on_body_write is not None \
                or not isinstance(body, bytes) or self._compressed_body is not None \
                or must_be_empty_body(request.method, self._status):
            return await super().prepare(request)
        # as Response._start and StreamResponse._prepare_headers, in their order
        self._must_be_empty_body = False
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = self._keep_alive = request.keep_alive
        headers[hdrs.CONTENT_LENGTH] = str(len(body))
        if hdrs.DATE not in headers:
            headers[hdrs.DATE] = rfc822_formatted_time()
        if server is SERVER_NAME:
            headers[hdrs.SERVER] = SERVER_NAME  # what name_server sets, where it sets it
        else:
            headers.setdefault(hdrs.SERVER, server)
        version = request.version
        if hdrs.CONNECTION not in headers:
            if keep_alive:
                if version == HttpVersion10:
                    headers[hdrs.CONNECTION] = "keep-alive"
            elif version == HttpVersion11:
                headers[hdrs.CONNECTION] = "close"
        head = _serialize_headers(f"HTTP/{version[0]}.{version[1]} {self._status} {self._reason}",
                                  headers)
        # as StreamWriter.write_eof with buffered headers: one write (or writelines)
        writer._headers_written = True
        writer._writelines((head, body))
        await writer.drain()
        writer._eof = True
        self._eof_sent = True
        self._body_length = writer.output_size
        return writer


def _server_header(request: web.BaseRequest) -> str | None:
    """The Server header aiohttp's prepare would end with, when the app's prepare signal
    is known to set nothing else; None otherwise."""
    match_info = getattr(request, "_match_info", None)
    if match_info is None:  # no app: no signal
        return SERVER_SOFTWARE
    apps = match_info._apps
    return app_server_header(apps[0]) if len(apps) == 1 else None


def wire(body: bytes, content_type: str, headers: dict[str, str] | None, server: str,
         status: int = 200, encoding: str | None = None) -> bytes:
    """The bytes ``Answer(body, content_type, headers, status).prepare`` writes for a
    keep-alive HTTP/1.1 request whose app's prepare signal gives ``Server: server``
    (``encoding``: the Content-Encoding compress.compressed adds): for the requests served
    in the read callback (engine/inline.py), which have no ``web.Request`` to prepare
    against. Same head, same order, same serializer: the head up to Content-Length is
    aiohttp's serialization of the rest, made once per distinct rest (``_HEADS``), as
    every poll of a client sends the same headers (~4% of a long-polling echo's time
    went to serializing them per request)."""
    key = (status, content_type, encoding, server, tuple(headers.items()) if headers else ())
    head = _HEADS.get(key)
    if head is None:
        real: CIMultiDict[str] = CIMultiDict(headers) if headers else CIMultiDict()
        real[hdrs.CONTENT_TYPE] = content_type
        if encoding is not None:
            real[hdrs.CONTENT_ENCODING] = encoding
        # aiohttp's bytes end with "\r\n\r\n": the last header line's end is kept
        head = _serialize_headers(f"HTTP/1.1 {status} {REASON_PHRASES.get(status, '')}",
                                  real)[:-2]
        if len(_HEADS) >= _HEADS_MAX:
            _HEADS.clear()
        _HEADS[key] = head
    # the rest of Answer.prepare's head: Content-Length, Date, Server
    return b"%sContent-Length: %d\r\nDate: %s\r\nServer: %s\r\n\r\n%s" % (
        head, len(body), rfc822_formatted_time().encode(), server.encode(), body)


# wire()'s heads up to Content-Length, by everything that goes into them; bounded, as
# the CORS headers echo the client's Origin
_HEADS: dict[tuple[Any, ...], bytes] = {}
_HEADS_MAX = 256


def wire_of(response: Answer, server: str) -> bytes:
    """``wire`` for an ``Answer`` already made (what a coroutine of polling.py returns)."""
    body = response._body
    assert isinstance(body, bytes)
    real = CIMultiDict(response._headers)
    real[hdrs.CONTENT_LENGTH] = str(len(body))
    real[hdrs.DATE] = rfc822_formatted_time()
    real[hdrs.SERVER] = server
    status = response._status
    return _serialize_headers(f"HTTP/1.1 {status} {REASON_PHRASES.get(status, '')}",
                              real) + body


def app_server_header(app: web.Application) -> str | None:
    """The Server header aiohttp's prepare gives every response of ``app`` (a top-level
    app, no sub-app in the route) when its prepare signal is known to set nothing else;
    None otherwise."""
    signal = app.on_response_prepare
    if not signal:
        return SERVER_SOFTWARE
    if len(signal) == 1 and signal[0] is name_server:
        return SERVER_NAME
    return None
