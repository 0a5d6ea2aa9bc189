"""HTTP compression of long-polling responses (``--no-http-compression`` turns it off;
on by default, as Node's engine.io ``httpCompression`` and python-engineio's
``http_compression`` are).

A response body of ``--http-compression-threshold`` bytes or more (1024, Node's and
python-engineio's default; smaller ones never) is gzipped or deflated when the request's
``Accept-Encoding`` allows it, chosen as Node's engine.io chooses (the ``accepts``
package): the highest ``q`` wins, ``q=0`` refuses, an exact name beats ``*``, then the
client's order, then gzip before deflate; no header: no compression. python-engineio
takes the first listed name and ignores ``q``, so ``gzip;q=0`` still gets gzip there.

zlib level 6 (zlib's default, and Node's): on socket.io-like JSON it compressed 5 KB in
67 us, 64 KB in 1.0 ms, 1 MB in 11 ms (level 1: 4.4 ms; 9: 50 ms). Bodies over
``OFFLOAD`` bytes are compressed on the loop's executor (zlib releases the GIL), so one
large poll does not hold up every other client for milliseconds.

A broadcast wakes every waiting poll with the same body: the last bodies compressed are
kept (``_RECENT``), so it is compressed once, not once per client. On 100 polling clients
x 300 broadcasts of 2 KB (bench/polling_compression.py) compression cost 3.5x the
server's CPU without that (1.9 s against 0.55 s) and ~10% with it, for 4.2x fewer bytes.

Compressing a secret beside text an attacker chooses in one response leaks the secret
through the size over TLS (BREACH); an application that sends both to one client over
long-polling should run with --no-http-compression.
"""
from __future__ import annotations

import asyncio
import zlib

from aiohttp import web

from ..config import Config

ENCODINGS = ("gzip", "deflate")  # the order a tie is broken in, as Node's
LEVEL = 6
OFFLOAD = 64 * 1024
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}  # deflate: zlib format

# Accept-Encoding value -> chosen coding: clients send the same few values, so each is
# parsed once; bounded, as the value is the client's choice.
_CHOSEN: dict[str, str | None] = {}
_CHOSEN_MAX = 256


def negotiate(accept: str | None) -> str | None:
    """The coding of ENCODINGS to use for an ``Accept-Encoding`` value; None: identity."""
    if not accept:
        return None
    try:
        return _CHOSEN[accept]
    except KeyError:
        pass
    specs: list[tuple[str, float, int]] = []  # (coding, q, position)
    for position, item in enumerate(accept.split(",")):
        coding, _, params = item.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q == q and coding.strip():  # NaN: refused
            specs.append((coding.strip().lower(), q, position))
    best: tuple[tuple[float, int, int, int], str] | None = None
    for index, name in enumerate(ENCODINGS):
        # the spec that applies to this coding: an exact one over *, then the highest q
        matching = [(1 if coding == name else 0, q, position)
                    for coding, q, position in specs if coding in (name, "*")]
        if not matching:
            continue
        specific, q, position = max(matching)
        rank = (q, specific, -position, -index)
        if q > 0 and (best is None or rank > best[0]):
            best = rank, name
    chosen = best[1] if best is not None else None
    if len(_CHOSEN) >= _CHOSEN_MAX:
        _CHOSEN.clear()
    _CHOSEN[accept] = chosen
    return chosen


# The last bodies compressed, by (body, coding): a broadcast wakes every waiting poll with
# the same body, which is then compressed once, not once per client.
_RECENT: dict[tuple[bytes, str], bytes] = {}
_RECENT_MAX = 16


def compress(data: bytes, encoding: str, level: int = LEVEL) -> bytes:
    """``data`` as a gzip member (no file name, mtime 0) or a zlib stream (HTTP's deflate)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, _WBITS[encoding])
    return compressor.compress(data) + compressor.flush()


def compress_recent(body: bytes, encoding: str) -> bytes:
    """``compress`` on the loop, for a body of at most OFFLOAD bytes, through ``_RECENT``."""
    data = _RECENT.get((body, encoding))
    if data is None:
        data = compress(body, encoding)
        if len(_RECENT) >= _RECENT_MAX:
            del _RECENT[next(iter(_RECENT))]
        _RECENT[body, encoding] = data
    return data


def compressible(config: Config, response: web.Response) -> bool:
    """Whether ``compressed`` may change ``response``: compression on, a body of at least
    the threshold (the request's Accept-Encoding decides the rest). A plain call, so the
    many small polls skip ``compressed``'s coroutine."""
    body = response.body
    return config.http_compression and isinstance(body, bytes) \
        and len(body) >= config.http_compression_threshold


async def compressed(config: Config, request: web.BaseRequest,
                     response: web.Response) -> web.Response:
    """``response`` with its body compressed when compression is on, the body is at least
    the threshold and the request accepts gzip or deflate; as it is otherwise."""
    if not compressible(config, response):
        return response
    body = response.body
    assert isinstance(body, bytes)
    encoding = negotiate(request.headers.get("Accept-Encoding"))
    if encoding is None:
        return response
    if len(body) > OFFLOAD:
        data = await asyncio.get_running_loop().run_in_executor(None, compress, body, encoding)
    else:
        data = compress_recent(body, encoding)
    response.body = data
    response.headers["Content-Encoding"] = encoding
    return response

