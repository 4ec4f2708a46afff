"""A lean, pipelined Redis connection for the hottest command: the ingest script behind every counted event.

redis-py spends about 100 µs of CPU on one script call with a few dozen arguments (pool checkout, retry
wrapper, timeout contexts, per-argument encoding), and the view beacon makes one call per ~30 views.
This link writes RESP it packed itself on one connection and pairs replies with calls in order (Redis
answers in order), parsed by hiredis. Every other command keeps using redis-py.

Failure rules, the same as redis-py's but explicit:
- replies are paired with calls by position: a cancelled call keeps its place in the queue, and its
  reply, when it comes, is dropped. A late reply can never reach the wrong call;
- a call whose reply is not back within `reply_timeout` closes the connection and fails every call in
  flight with a ConnectionError. Callers retry only idempotent commands (the ingest script is: event ids);
- error replies become the exceptions redis-py's parser raises (LOADING: BusyLoadingError, a
  ConnectionError the caller's retry repeats with backoff; READONLY, MASTERDOWN, ...); a READONLY or
  MASTERDOWN peer is not one to stay on: the connection is dropped, the next call connects anew;
- the next call reconnects (AUTH and SELECT as the URL says);
- an idle connection is PINGed every `idle_ping_s` (and TCP keepalive is on): a peer that died or
  froze while no call was in flight is noticed and dropped before the next call waits on it.
Plain TCP (`redis://`) and unix sockets (`unix://`) only; `supports()` says which URLs.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
from typing import Any

import hiredis
from redis._parsers.base import BaseParser
from redis.asyncio.connection import parse_url
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    MasterDownError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = bytes | str | int


def supports(url: str) -> bool:
    """True for URLs this link can serve (TLS is left to redis-py)."""
    return url.startswith(("redis://", "unix://"))


def pack(args: tuple[Arg, ...] | list[Arg]) -> bytes:
    """One command in RESP: an array of bulk strings.

    Built as text and encoded once when every argument is text or a number and the whole is ASCII (a
    string's length is then its length in bytes): a third cheaper than encoding each argument, and an
    ingest call has hundreds of them."""
    parts = [f"*{len(args)}\r\n"]
    for arg in args:
        if type(arg) is not str:
            if isinstance(arg, bytes):
                return _pack_bytes(args)
            arg = str(arg)
        parts.append(f"${len(arg)}\r\n{arg}\r\n")
    text = "".join(parts)
    return text.encode() if text.isascii() else _pack_bytes(args)


def _pack_bytes(args: tuple[Arg, ...] | list[Arg]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


PING = pack(("PING",))
_LEAVE = (ReadOnlyError, MasterDownError)  # a replica or a master without its master: reconnect


def _error(reply: ResponseError) -> RedisError:
    """The exception redis-py raises for this error reply (its own parser's mapping)."""
    error: RedisError = BaseParser.parse_error(str(reply))  # type: ignore[no-untyped-call]
    return error


class _Protocol(asyncio.Protocol):
    """Replies matched in order to the futures of the calls written."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.closed = False
        self.replies = 0  # how many came: the idle check's sign of life

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        leave: RedisError | None = None
        try:
            while (reply := self.reader.gets()) is not False:
                self.replies += 1
                future = self.waiting.popleft()
                if isinstance(reply, ResponseError):
                    error = _error(reply)
                    if isinstance(error, _LEAVE):
                        leave = error
                    if not future.done():
                        future.set_exception(error)
                elif not future.done():
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as exc:  # garbage, or a reply nobody asked for
            self.abort(RedisConnectionError(f"Redis protocol out of step: {exc!r}"))
        if leave is not None:
            self.abort(RedisConnectionError(f"left a Redis that answered {type(leave).__name__}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(RedisConnectionError(f"connection to Redis lost: {exc!r}" if exc else "Redis closed the connection"))

    def abort(self, exc: Exception) -> None:
        self.closed = True
        self._fail(exc)
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, exc: Exception) -> None:
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(exc)

    def send(self, command: bytes) -> asyncio.Future[Any]:
        if self.closed or self.transport is None or self.transport.is_closing():
            raise RedisConnectionError("not connected to Redis")
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        self.transport.write(command)
        return future


class RedisLink:
    """One pipelined connection; `call` may be used by many tasks at once."""

    def __init__(self, url: str, *, connect_timeout: float, reply_timeout: float, idle_ping_s: float = 5.0) -> None:
        if not supports(url):
            raise ValueError(f"the Redis link serves redis:// and unix:// URLs, not {url.split(':', 1)[0]}://")
        self.params = parse_url(url)
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self.idle_ping_s = idle_ping_s
        self.dropped_idle = 0  # connections the idle check found dead
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Task[_Protocol] | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._protocol is not None and not self._protocol.closed

    async def call(self, command: bytes) -> Any:
        """Send one packed command (see `pack`) and return its reply; errors are redis-py's exceptions."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        future = protocol.send(command)
        try:
            async with asyncio.timeout(self.reply_timeout):
                return await future
        except TimeoutError:  # a stuck connection: drop it rather than queue every later call behind it
            protocol.abort(RedisTimeoutError("no reply from Redis in time; connection dropped"))
            raise RedisTimeoutError(f"no reply from Redis within {self.reply_timeout} s") from None

    async def _connect(self) -> _Protocol:
        task = self._connecting
        if task is None or task.done():  # concurrent callers share one attempt
            task = self._connecting = asyncio.ensure_future(self._open())
            task.add_done_callback(self._opened)
        return await asyncio.shield(task)  # a cancelled caller does not cut the attempt short for the others

    def _opened(self, task: asyncio.Task[_Protocol]) -> None:
        if self._connecting is task:
            self._connecting = None
        if not task.cancelled() and task.exception() is None:  # (the exception is the callers' to raise)
            self._protocol = task.result()
            if self._watch is not None:
                self._watch.cancel()
            self._watch = asyncio.ensure_future(self._watch_idle(self._protocol))

    async def _watch_idle(self, protocol: _Protocol) -> None:
        """PING `protocol` whenever a whole `idle_ping_s` passed with no call in flight and no reply."""
        seen = -1
        while not protocol.closed:
            await asyncio.sleep(self.idle_ping_s)  # the idle period the check waits out
            if protocol.closed or protocol.waiting or protocol.replies != seen:
                seen = protocol.replies
                continue
            try:
                async with asyncio.timeout(self.reply_timeout):
                    await protocol.send(PING)
            except (BusyLoadingError, ResponseError):
                pass  # it answered: alive (loading, or refusing PING)
            except (TimeoutError, RedisError):
                if not protocol.closed:
                    self.dropped_idle += 1
                    protocol.abort(RedisConnectionError("Redis did not answer an idle PING; connection dropped"))
                return
            seen = protocol.replies

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        p = self.params
        protocol: _Protocol | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                if "path" in p:
                    _t, protocol = await loop.create_unix_connection(_Protocol, p["path"])
                else:
                    transport, protocol = await loop.create_connection(
                        _Protocol, p.get("host", "localhost"), int(p.get("port", 6379))
                    )
                    _keepalive(transport.get_extra_info("socket"), self.idle_ping_s)
                for future in [protocol.send(pack(command)) for command in self._setup()]:
                    await future
            return protocol
        except BaseException as exc:
            if protocol is not None:
                protocol.abort(RedisConnectionError("connection setup failed"))
            if isinstance(exc, ResponseError):
                raise AuthenticationError(f"Redis refused the connection setup: {exc}") from None
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError(f"could not connect to Redis within {self.connect_timeout} s") from None
            if isinstance(exc, OSError):
                raise RedisConnectionError(f"could not connect to Redis: {exc}") from None
            raise

    def _setup(self) -> list[tuple[Arg, ...]]:
        """AUTH and SELECT, as the URL asks."""
        p = self.params
        commands: list[tuple[Arg, ...]] = []
        if p.get("password"):
            user = (p["username"],) if p.get("username") else ()
            commands.append(("AUTH", *user, p["password"]))
        if int(p.get("db") or 0):
            commands.append(("SELECT", int(p["db"])))
        return commands

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        if self._protocol is not None:
            self._protocol.abort(RedisConnectionError("link closed"))
            self._protocol = None


def _keepalive(sock: socket.socket | None, idle_s: float) -> None:
    """TCP keepalive: the kernel probes an idle peer and fails the connection when it is gone."""
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", max(1, int(idle_s))), ("TCP_KEEPINTVL", 1), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
