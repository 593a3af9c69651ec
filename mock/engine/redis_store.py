"""Projects' state and the journal in Redis: every process and replica that names the same Redis
sees the same tokens, agents, vault requests, selections, added scenarios, ``times`` counts and journal.

Keys (one project's state is one hash, so each project has one hash tag and the layout works on
Redis Cluster; the journal's fair eviction needs every project's journal at once, so all of it
shares the ``{journal}`` tag, and the project index the ``{meta}`` tag):

- ``cbm:{p:<project>}:state``: hash, one field per part of the state (``ProjectWorld.fields``) and
  ``v``, the version: a random id written by every change. ``cbm:{p:<project>}:log``: the latest
  changes (``[from version, to version, fields...]``, newest first, at most ``CHANGE_LOG``; an
  independent change has ``"~<n>"`` before its fields, ``n`` the number of them it only forgot, which
  a reader that does not know the mark takes for a field it cannot find), so a process whose copy is a
  few versions behind reads only the fields that changed.
  ``cbm:{p:<project>}:lock``: held by a process whose change met others' ``OPTIMISTIC_ATTEMPTS``
  times; while it is held, only its holder's changes are written (it lapses, should the holder die).
- ``cbm:{meta}:projects``: sorted set, project -> time of its last change; past ``max_projects`` the
  oldest is forgotten. ``cbm:{meta}:added`` (project -> scenarios it added) and ``cbm:{meta}:totals``
  (``added``) keep ``max_added_scenarios_total``.
- ``cbm:{journal}:p:<project>``: list of entries (``"<id> <weight> <json>"``), oldest first;
  ``cbm:{journal}:usage``: sorted set, project -> bytes held; ``cbm:{journal}:totals``: hash of
  ``id``, ``entries``, ``bytes``. Recording an entry drops the oldest entries of the heaviest
  project while the journal is over ``journal_entries`` or ``journal_bytes``, in the same script.

Every read-modify-write runs as one Lua script, so it is atomic across processes. A change is
written onto the version it was made from (compare and set): when another process wrote the project
meanwhile, the state is read again and the change made again (see ``store.py``). Except that an
independent change (it touched only tokens and vault requests: ``ProjectWorld.independent``) is
written over other independent changes made since, as long as none of them touched a record it
wrote (two processes forgetting the same oldest token is no conflict), and its answer brings what
they changed: two processes making tokens and vault requests in one project do not redo each
other's. A project may then hold more tokens or vault requests than their bound, by as many as the
other processes made at that moment (each forgot the oldest past the bound in its own copy, the same
ones); the next one made forgets the rest. A process whose copy was moved on by a read while its
change was on its way does not apply what the change brought back (it may be older than what the read
found): its next read takes those fields again.

A process keeps a copy of the projects it serves, each with its version; a request asks Redis for
the version, and when it changed, the fields changed since its copy's version (or the whole project
when its copy is older than the change log).

Round trips: a process sends its scripts through one pipeline at a time; what its requests ask for
while one is on its way, or in the turns of the event loop before the first is sent (reads, writes,
journal entries), goes in the next (``Redis.script``). Its
changes to one project are applied in turn to its copy and written together by one compare and set
(``RedisStore.transaction``). So under load one round trip serves several requests; one request
alone still makes its own (the version, the change if any, the journal entry).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections import OrderedDict
from typing import Any, Callable, TypeVar
from urllib.parse import quote, unquote

import hiredis
import redis.asyncio as aioredis
import redis.asyncio.cluster
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .. import internals
from ..config import Limits
from . import redis_codec
from .journal import ENTRY_OVERHEAD, JournalFormat, JournalPage
from .store import StoreUnavailable, cluster_seed, shown_url
from .world import Clock, ProjectWorld, Seed

log = logging.getLogger("cloud_backup_mock")
T = TypeVar("T")
PREFIX = "cbm"
OPTIMISTIC_ATTEMPTS = 3  # a change that met others' this many times takes the project's lock
MAX_ATTEMPTS = 64  # a change redone this many times (its lock lapsing meanwhile): 503
CACHED_PROJECTS = 1000  # projects whose state a process keeps a copy of
CACHED_SCENARIOS = 256  # added scenarios kept compiled, by their document
CHANGE_LOG = 64  # changes of a project kept, so that a copy that far behind reads only what changed
TOUCH_EVERY = 5.0  # seconds between updates of a project's place in the project index by one process
STALE = "\x00"  # the version of a copy that must be read whole (never a version Redis holds)
# Turns of the event loop the sender lets pass before it sends: the requests under way in them ask for
# their scripts first and go in the same round trip (a request whose bytes came with the first's reaches
# its script about two turns later). A turn with nothing else to do takes microseconds.
GATHER_TURNS = 2
READ_BYTES = 65536  # read from the sender's connection at a time
POOL_CONNECTIONS = 64  # connections to a single Redis per process (requests beyond wait for one)
FAULTS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError, asyncio.TimeoutError,
          redis.exceptions.ClusterError, redis.exceptions.RedisClusterException)

# Used by the scripts below: the change log's entries, newest first, decoded as they are walked (a copy is
# most often a few changes behind: the first eight are read, the rest only if the walk goes past them);
# the hash's fields named by a set, as {name, value or false, ...}.
_LUA_FUNCTIONS = """
local function log_changes(key)
  local texts, i, whole = redis.call('LRANGE', key, 0, 7), 0, false
  return function()
    i = i + 1
    if i > #texts and not whole and #texts == 8 then
      texts, i, whole = redis.call('LRANGE', key, 8, -1), 1, true
    end
    local text = texts[i]
    return text and cjson.decode(text)
  end
end

local function values_of(key, wanted)
  local names, out = {}, {}
  for name in pairs(wanted) do names[#names + 1] = name end
  for i = 1, #names, 500 do
    local values = redis.call('HMGET', key, unpack(names, i, math.min(i + 499, #names)))
    for j = 1, #values do
      out[#out + 1] = names[i + j - 1]
      out[#out + 1] = values[j]
    end
  end
  return out
end
"""
# KEYS: state, log; ARGV: the version this process has, then fields to read anyway. -> {version} when
# it is current (or the project has none); {version, {field, value or false, ...}, 1} with the fields
# changed since (and those asked for); else {version, {field, value, ...}} with all of them.
_LOAD = _LUA_FUNCTIONS + """
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return {''} end
if v == ARGV[1] and #ARGV == 1 then return {v} end
local changed, want = {}, v
for i = 2, #ARGV do changed[ARGV[i]] = true end
if want ~= ARGV[1] then
  for change in log_changes(KEYS[2]) do
    if change[2] ~= want then break end
    for i = string.sub(change[3], 1, 1) == '~' and 4 or 3, #change do changed[change[i]] = true end
    want = change[1]
    if want == ARGV[1] then break end
  end
end
if want ~= ARGV[1] then return {v, redis.call('HGETALL', KEYS[1])} end
return {v, values_of(KEYS[1], changed), 1}
"""
_READS = {"load"}  # scripts that change nothing: one call answers every request asking the same
# Scripts whose calls in one round trip go as one call: how many of their first keys and arguments the calls
# share (sent once), the rest of each call's following; the script answers a list, an item per call.
_MERGED = {"record": (2, 3)}
# KEYS: state, log, lock; ARGV: expected version, new version, "1" when the change is independent (touched only
# tokens and vault requests, ``ProjectWorld.independent``), the change log's length, who holds the project's
# lock ("" for nobody), nf and nd, then the nf fields an independent change only forgot and the nd others it deleted,
# then name/value pairs. -> {1} when written onto the expected version; {1, {field, value or false, ...}}
# when written over independent changes made since, with the fields they changed (none of the change's
# own: it is written only if no change since touched what it wrote, and none changed what it forgot other
# than by forgetting it too); {2} when it was written already (a call sent again after a lost connection);
# {0} when not written (the project changed otherwise, or another process holds its lock).
_COMMIT = _LUA_FUNCTIONS + """
local v = redis.call('HGET', KEYS[1], 'v') or ''
if v == ARGV[2] then return {2} end
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[5] then return {0} end
local nf, nd = tonumber(ARGV[6]), tonumber(ARGV[7])
local last = 7 + nf + nd
local theirs
if v ~= ARGV[1] then
  if ARGV[3] ~= '1' or v == '' then return {0} end
  local mine = {}
  for i = 8, last do mine[ARGV[i]] = i > 7 + nf end
  for i = last + 1, #ARGV, 2 do mine[ARGV[i]] = true end
  theirs = {}
  local want = v
  for change in log_changes(KEYS[2]) do
    if change[2] ~= want or string.sub(change[3], 1, 1) ~= '~' then return {0} end
    local forgot = tonumber(string.sub(change[3], 2))
    for i = 4, #change do
      local name = change[i]
      if mine[name] or (mine[name] == false and i >= 4 + forgot) then return {0} end
      theirs[name] = true
    end
    want = change[1]
    if want == ARGV[1] then break end
  end
  if want ~= ARGV[1] then return {0} end
end
local change = {v, ARGV[2]}
if ARGV[3] == '1' then change[3] = '~' .. nf end
for i = 8, last do change[#change + 1] = ARGV[i] end
for i = last + 1, #ARGV, 2 do change[#change + 1] = ARGV[i] end
for i = 8, last, 500 do redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 499, last))) end
for i = last + 1, #ARGV, 1000 do redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call('HSET', KEYS[1], 'v', ARGV[2])
redis.call('LPUSH', KEYS[2], cjson.encode(change))
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
if not theirs then return {1} end
return {1, values_of(KEYS[1], theirs)}
"""
# KEYS: lock; ARGV: holder. Releases the lock if it is still the holder's.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS: projects, added, totals; ARGV: project, now (ms), max_projects. -> the projects forgotten.
_TOUCH = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
local forgotten = {}
if over > 0 then
  local old = redis.call('ZPOPMIN', KEYS[1], over)
  for i = 1, #old, 2 do
    local n = tonumber(redis.call('ZSCORE', KEYS[2], old[i]) or '0')
    if n ~= 0 then
      redis.call('ZREM', KEYS[2], old[i])
      redis.call('HINCRBY', KEYS[3], 'added', -n)
    end
    forgotten[#forgotten + 1] = old[i]
  end
end
return forgotten
"""
# KEYS: projects, added, totals; ARGV: project. Forgets the project's place and counts.
_FORGET = """
redis.call('ZREM', KEYS[1], ARGV[1])
local n = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if n ~= 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HINCRBY', KEYS[3], 'added', -n)
end
return n
"""
# KEYS: added, totals; ARGV: project, count (may be negative), the most all projects may have. -> 1 or 0.
_RESERVE = """
local count = tonumber(ARGV[2])
local total = tonumber(redis.call('HGET', KEYS[2], 'added') or '0')
if count > 0 and total + count > tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[2], 'added', count)
if tonumber(redis.call('ZINCRBY', KEYS[1], count, ARGV[1])) <= 0 then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
"""
# KEYS: usage, totals, then each entry's project list; ARGV: max entries, max bytes, the prefix of project
# lists, then each entry's project, weight and text. -> the entries' ids. Over a bound, the oldest entries of
# the heaviest project go first, one project at a time for as long as it stays the heaviest.
_RECORD = """
local n = #KEYS - 2
local first = redis.call('HINCRBY', KEYS[2], 'id', n) - n
local totals = redis.call('HMGET', KEYS[2], 'entries', 'bytes')
local count, bytes = tonumber(totals[1] or '0'), tonumber(totals[2] or '0')
local most, most_bytes = tonumber(ARGV[1]), tonumber(ARGV[2])
local ids = {}
for i = 1, n do
  local weight = tonumber(ARGV[3 * i + 2])
  ids[i] = first + i
  redis.call('RPUSH', KEYS[2 + i], ids[i] .. ' ' .. weight .. ' ' .. ARGV[3 * i + 3])
  redis.call('ZINCRBY', KEYS[1], weight, ARGV[3 * i + 1])
  count, bytes = count + 1, bytes + weight
  while count > most or (bytes > most_bytes and count > 1) do
    local top = redis.call('ZREVRANGE', KEYS[1], 0, 1, 'WITHSCORES')
    if #top == 0 then break end
    local project, left, list = top[1], tonumber(top[2]), ARGV[3] .. top[1]
    local next_weight, dropped = tonumber(top[4] or '-1'), 0
    repeat
      local old = redis.call('LPOP', list)
      if not old then left = 0 break end
      local weight = tonumber(string.match(old, '^%d+ (%d+) '))
      dropped, left, count, bytes = dropped + weight, left - weight, count - 1, bytes - weight
    until not (count > most or (bytes > most_bytes and count > 1))
      or left < next_weight or (left == next_weight and top[3] > project)
    if left <= 0 or redis.call('LLEN', list) == 0 then
      redis.call('ZREM', KEYS[1], project)
    else
      redis.call('ZINCRBY', KEYS[1], -dropped, project)
    end
  end
end
redis.call('HSET', KEYS[2], 'entries', count, 'bytes', bytes)
return ids
"""
# KEYS: usage, totals, the project's list; ARGV: project. -> entries deleted.
_CLEAR = """
local n = redis.call('LLEN', KEYS[3])
local weight = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0')
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'entries', -n)
redis.call('HINCRBY', KEYS[2], 'bytes', -weight)
return n
"""


def project_tag(project_id: str | None) -> str:
    """A project id as it goes into keys: percent-encoded (no braces, so it stays inside its hash tag);
    ``%`` alone for requests outside any project."""
    return "%" if project_id is None else quote(project_id, safe="", errors="surrogateescape")


class Redis:
    """One connection pool per process, every call made through :meth:`call`, which turns Redis being
    unreachable or too slow (``store_timeout``) into :class:`StoreUnavailable` and logs when Redis goes
    away and when it is back."""

    def __init__(self, url: str, limits: Limits):
        self.url, self.timeout = shown_url(url), limits.store_timeout
        timeouts = {"socket_timeout": limits.store_timeout, "socket_connect_timeout": limits.store_timeout,
                    # A connection Redis closed (it restarted) is opened again once; a timeout is not tried again.
                    "retry": Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))}
        seed = cluster_seed(url)
        self.cluster = seed is not None
        if self.cluster:  # the client reads the slot map from the seed and sends each key to its master
            # Its pools fail rather than wait when full, so each node may have one connection per request
            # in flight (one per HTTP connection) and one for the journal's writer.
            self.client = redis.asyncio.cluster.RedisCluster.from_url(
                seed, max_connections=limits.max_connections + 1, **timeouts)
        else:
            pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=POOL_CONNECTIONS,
                                                            timeout=limits.store_timeout, **timeouts)
            self.client = aioredis.Redis.from_pool(pool)  # closing the client closes the pool
        self.scripts = {name: self.client.register_script(text) for name, text in (
            ("load", _LOAD), ("commit", _COMMIT), ("touch", _TOUCH), ("forget", _FORGET), ("reserve", _RESERVE),
            ("record", _RECORD), ("clear", _CLEAR), ("unlock", _UNLOCK))}
        self.available = True
        self._waiting: list[tuple[tuple[str, list[str], list[Any]], asyncio.Future]] = []
        self._sender: asyncio.Task | None = None
        self._connection: Any = None  # the sender's own connection (a single Redis; see _on_connection)

    async def call(self, operation: Callable[[], Any]) -> Any:
        try:
            result = await operation()
        except FAULTS as exc:
            if self.available:
                self.available = False
                log.warning("Redis at %s cannot be reached (%s); requests are answered 503 until it can", self.url,
                            exc.__class__.__name__)
            raise StoreUnavailable(f"Redis at {self.url}: {exc.__class__.__name__}: {exc}"[:300]) from None
        if not self.available:
            self.available = True
            log.info("Redis at %s is back", self.url)
        return result

    async def script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """The script's result. It goes in the next round trip: the scripts that this process's requests
        run while a round trip is on its way are sent together in the next one (one pipeline, in the
        order they were asked for, each sent after its request asked for it), so under load a round
        trip serves several requests. The same read of a project asked for twice in one round trip is
        sent once; the journal entries of a round trip go as one call (``_MERGED``)."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._waiting.append(((name, keys, args), done))
        if self._sender is None or self._sender.done():
            self._sender = loop.create_task(self._send())
        return await done

    async def scripts_at_once(self, calls: list[tuple[str, list[str], list[Any]]]) -> list[Any]:
        """Several scripts in one round trip (keys of different slots allowed: each call is its own)."""
        return list(await asyncio.gather(*(self.script(name, keys, args) for name, keys, args in calls)))

    async def _send(self) -> None:
        """Send what is waiting, one pipeline per round trip, until nothing is."""
        for _ in range(GATHER_TURNS):
            await asyncio.sleep(0)
        while self._waiting:
            batch, self._waiting = self._waiting, []
            calls: list[tuple[str, list[str], list[Any]]] = []
            place: dict[tuple, int] = {}  # a read sent once for every request asking for it; a merged call
            slots: list[tuple[int, int | None]] = []  # each request's call, and its item of a merged call's answer
            items: dict[int, int] = {}  # a merged call -> the last item in it
            for (name, keys, args), _ in batch:
                if name in _READS or name in _MERGED:
                    keys_shared, args_shared = _MERGED.get(name, (len(keys), len(args)))
                    same = (name, *keys[:keys_shared], None, *args[:args_shared])
                    slot = place.get(same)
                    if slot is None:
                        slot = place[same] = len(calls)
                        calls.append((name, list(keys), list(args)))
                        items[slot] = 0
                    elif name in _MERGED:
                        calls[slot][1].extend(keys[keys_shared:])
                        calls[slot][2].extend(args[args_shared:])
                        items[slot] += 1
                    slots.append((slot, items[slot] if name in _MERGED else None))
                else:
                    calls.append((name, keys, args))
                    slots.append((len(calls) - 1, None))
            try:
                results = await self.call(lambda: self._pipeline(calls))
            except Exception as exc:  # noqa: BLE001 - every request waiting learns why
                results = [exc] * len(calls)
            for (_, waiting), (slot, item) in zip(batch, slots):
                if waiting.done():  # its request was given up meanwhile
                    continue
                if isinstance(results[slot], Exception):
                    waiting.set_exception(results[slot])
                else:
                    waiting.set_result(results[slot] if item is None else results[slot][item])

    async def _on_connection(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """The replies (an exception for a command Redis refused) to commands sent at once on this
        process's own connection to a single Redis. The sender sends one batch at a time, so one
        connection serves them all, without a pipeline object and a hand-over from the pool per round
        trip; the batch is packed and its replies parsed by hiredis, all at once. A connection that
        failed is closed; the next batch opens it again."""
        connection = self._connection
        if connection is None:
            connection = self._connection = await self.client.connection_pool.get_connection()

        async def once() -> list[Any]:
            if not connection.is_connected:
                await connection.connect()
            reader, writer = internals.redis_streams(connection)
            parser, replies = hiredis.Reader(replyError=internals.redis_reply_error), []
            try:
                writer.write(b"".join(map(hiredis.pack_command, commands)))
                async with asyncio.timeout(self.timeout):
                    await writer.drain()
                    while len(replies) < len(commands):
                        reply = parser.gets()
                        if reply is False:  # the rest has not come yet
                            data = await reader.read(READ_BYTES)
                            if not data:
                                raise redis.exceptions.ConnectionError("Redis closed the connection")
                            parser.feed(data)
                        elif isinstance(reply, redis.exceptions.ConnectionError):  # e.g. LOADING
                            raise reply
                        else:
                            replies.append(reply)
            except TimeoutError:  # Redis too slow: not tried again
                raise
            except OSError as exc:  # the socket's own errors, tried again once like redis-py's
                raise redis.exceptions.ConnectionError(f"{exc.__class__.__name__}: {exc}") from exc
            return replies

        try:
            return await connection.retry.call_with_retry(once, lambda error: connection.disconnect())
        except BaseException:
            await connection.disconnect(nowait=True)  # where its replies stand is unknown
            raise

    async def _pipeline(self, calls: list[tuple[str, list[str], list[Any]]]) -> list[Any]:
        """The scripts' results (an exception for one that failed) in one round trip; those a Redis
        without them (it restarted) refused are sent again once it has them."""
        async def run(indexes: list[int]) -> list[Any]:
            if not self.cluster:
                return await self._on_connection([("EVALSHA", self.scripts[calls[i][0]].sha, len(calls[i][1]),
                                                   *calls[i][1], *calls[i][2]) for i in indexes])
            async with self.client.pipeline(transaction=False) as pipe:  # each command to its slot's master
                for i in indexes:
                    name, keys, args = calls[i]
                    pipe.evalsha(self.scripts[name].sha, len(keys), *keys, *args)
                return await pipe.execute(raise_on_error=False)

        results = await run(list(range(len(calls))))
        for result in results:
            if isinstance(result, FAULTS):  # Redis (or a node of the cluster) cannot be reached
                raise result
        missing = [i for i, result in enumerate(results) if isinstance(result, redis.exceptions.NoScriptError)]
        if missing:
            for script in self.scripts.values():
                await self.client.script_load(script.script)
            for i, result in zip(missing, await run(missing)):
                results[i] = result
        return results


class RedisStore:
    """Each project's state as one Redis hash (see the module's text), with a copy per process."""

    def __init__(self, url: str, seed: Seed, clock: Clock, limits: Limits,
                 compile_added: Callable[[dict[str, Any], str], Any]):
        self.seed, self.clock, self.limits, self._compile = seed, clock, limits, compile_added
        self.redis = Redis(url, limits)
        self._cache: OrderedDict[str, ProjectWorld] = OrderedDict()
        self._versions: dict[str, str] = {}  # project -> the stored version its copy was read from ("": the seed's)
        self._compiled: OrderedDict[str, Any] = OrderedDict()
        self._queued: dict[str, list[tuple[Callable, asyncio.Future]]] = {}  # project -> changes to write next
        self._committers: dict[str, asyncio.Task] = {}  # project -> the task writing its changes
        self._touched: dict[str, float] = {}  # project -> when this process last put it first in the index
        self._reread: dict[str, set[str]] = {}  # project -> fields its copy's next read takes whatever changed
        meta = f"{PREFIX}:{{meta}}"
        self._meta = [f"{meta}:projects", f"{meta}:added", f"{meta}:totals"]

    @staticmethod
    def keys(project_id: str) -> list[str]:
        """The project's keys: its state, its change log, and the lock a process takes when its changes
        keep meeting others'."""
        tag = f"{PREFIX}:{{p:{project_tag(project_id)}}}"
        return [f"{tag}:state", f"{tag}:log", f"{tag}:lock"]

    # ---- reading
    async def project(self, project_id: str, also: set[str] = frozenset()) -> ProjectWorld:
        """The project's current state: this process's one copy of it, brought up to date in place (so
        every request of this process reads the same object). ``also``: fields to read again whatever
        changed (a change that could not be written touched them here)."""
        world = self._cache.get(project_id)
        if world is None:
            world = self._cache[project_id] = ProjectWorld(project_id, self.seed, self.clock)
            self._versions[project_id] = STALE
            while len(self._cache) > CACHED_PROJECTS:
                dropped = self._cache.popitem(last=False)[0]
                del self._versions[dropped]
                self._reread.pop(dropped, None)
        self._cache.move_to_end(project_id)
        versions, again = self._versions, set(self._reread.get(project_id, ()))
        for _ in range(MAX_ATTEMPTS):
            sent = versions[project_id]
            answer = await self.redis.script("load", self.keys(project_id), [sent, *sorted(also | again)])
            version = answer[0].decode()
            if versions.get(project_id) != sent:  # brought up to date (or changed) by another request meanwhile
                again &= self._reread.get(project_id, set())  # those another read took need not be read again
                if versions.get(project_id) == version and not also and not again:
                    return world
                versions.setdefault(project_id, STALE)
                continue  # read again from where the copy is now (with the fields asked for)
            compile_added = lambda d: self._scenario(d, project_id)  # noqa: E731
            if len(answer) == 1 and version == sent:
                self._taken(project_id, again)
                return world
            if len(answer) == 1:  # Redis has no state of it (new, reset or forgotten): the seed's
                world.replace(ProjectWorld(project_id, self.seed, self.clock))
            elif len(answer) == 3:
                redis_codec.apply(world, self._fields(answer[1]), compile_added)
            else:
                world.replace(redis_codec.decode(project_id, self.seed, self.clock, self._fields(answer[1]),
                                                 compile_added))
            versions[project_id] = version
            self._taken(project_id, again)
            return world
        raise StoreUnavailable(f"project {project_id!r} changed by others {MAX_ATTEMPTS} times while being read")

    def _taken(self, project_id: str, fields: set[str]) -> None:
        """Those fields to read again were read."""
        left = self._reread.get(project_id)
        if left is not None and fields:
            left -= fields
            if not left:
                del self._reread[project_id]

    @staticmethod
    def _fields(pairs: list[bytes | None]) -> dict[str, str | None]:
        return {pairs[i].decode(): None if pairs[i + 1] is None else pairs[i + 1].decode()
                for i in range(0, len(pairs), 2) if pairs[i] != b"v"}

    async def peek(self, project_id: str) -> ProjectWorld | None:
        world = await self.project(project_id)
        return None if self._versions.get(project_id) == "" else world

    def version(self, project_id: str) -> str | None:
        """The stored version this process's copy of the project was read from ("": Redis has none)."""
        return self._versions.get(project_id)

    def _scenario(self, document: dict[str, Any], project_id: str) -> Any:
        text = json.dumps(document, sort_keys=True)
        scenario = self._compiled.get(text)
        if scenario is None:
            scenario = self._compiled[text] = self._compile(document, project_id)
            while len(self._compiled) > CACHED_SCENARIOS:
                self._compiled.popitem(last=False)
        return scenario

    # ---- changing
    async def transaction(self, world: ProjectWorld, step: Callable[[ProjectWorld], T]) -> tuple[ProjectWorld, T]:
        """The step applied as one change. This process's changes to a project are applied one after
        another to its copy and written together: the steps asked for while a write is on its way are
        applied in turn and written in the next one (one round trip, one compare and set), and each
        request is answered once that write succeeded. When another process wrote first, every step of
        the group is made again, in the same order, on what it wrote."""
        project_id = world.project_id
        done = asyncio.get_running_loop().create_future()
        self._queued.setdefault(project_id, []).append((step, done))
        if project_id not in self._committers:
            self._committers[project_id] = asyncio.get_running_loop().create_task(self._write_queued(world))
        return await done

    async def _write_queued(self, world: ProjectWorld) -> None:
        project_id = world.project_id
        try:
            while self._queued.get(project_id):
                await self._write_group(self._cache.get(project_id, world), self._queued.pop(project_id))
        finally:
            self._committers.pop(project_id, None)

    async def _write_group(self, world: ProjectWorld, group: list[tuple[Callable, asyncio.Future]]) -> None:
        project_id = world.project_id
        holder, answers, error = "", [], None
        try:
            for attempt in range(MAX_ATTEMPTS):
                results, failed = [], None
                for step, done in group:
                    try:
                        results.append(step(world))
                    except Exception as exc:  # noqa: BLE001 - that request's error, not the others'
                        failed = (step, done, exc)
                        break
                if failed is not None:  # the copy holds part of its change: read it whole, redo the others
                    self._versions[project_id], world.touched = STALE, set()
                    group = [(step, done) for step, done in group if done is not failed[1]]
                    if not failed[1].done():
                        failed[1].set_exception(failed[2])
                    if not group:
                        return
                    world = await self.project(project_id)
                    continue
                if not world.touched or await self._commit(world, holder):
                    world.touched.clear()
                    answers = [(done, (world, result)) for (_, done), result in zip(group, results)]
                    return
                # Another process wrote it first: read what it changed, and ours again, then redo.
                touched = redis_codec.field_names(world, world.touched)
                world.touched = set()
                if attempt + 1 >= OPTIMISTIC_ATTEMPTS and not holder:
                    holder = await self._lock(project_id)  # others' changes now wait for this one
                world = await self.project(project_id, also=touched)
            raise StoreUnavailable(f"project {project_id!r} changed by others {MAX_ATTEMPTS} times in a row")
        except BaseException as exc:
            self._versions[project_id], world.touched = STALE, set()  # changed here, maybe not in Redis
            error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            if holder:  # released before anyone is answered
                try:
                    await self.redis.script("unlock", self.keys(project_id)[2:], [holder])
                except StoreUnavailable:
                    pass  # it lapses by itself
            for done, answer in answers:
                if not done.done():
                    done.set_result(answer)
            for _, done in group if error is not None else ():
                if not done.done():
                    done.set_exception(error if isinstance(error, Exception) else StoreUnavailable("shutting down"))

    async def _lock(self, project_id: str) -> str:
        """Take the project's lock (its holder's changes are the only ones written while it is held),
        waiting for another holder; it lapses after twice ``store_timeout``, should its holder die."""
        holder, key = uuid.uuid4().hex, self.keys(project_id)[2]
        lapse = max(1, int(self.limits.store_timeout * 2000))
        deadline = time.monotonic() + 4 * self.limits.store_timeout
        while not await self.redis.call(lambda: self.redis.client.set(key, holder, nx=True, px=lapse)):
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"project {project_id!r}: its lock was held by another process for too long")
            await asyncio.sleep(random.uniform(0.0005, 0.002))
        return holder

    async def _commit(self, world: ProjectWorld, holder: str = "") -> bool:
        project_id = world.project_id
        stored = self._versions.get(project_id, STALE)
        fields = redis_codec.encode(world, redis_codec.field_names(world, world.touched if stored else None))
        independent = "1" if stored not in ("", STALE) and world.independent() else "0"
        # Only an independent change's log entry says which fields it only forgot (no other reads that).
        forgotten = [name for name in redis_codec.forgotten_names(world.touched)
                     if fields[name] is None] if independent == "1" else []
        deleted = [name for name, value in fields.items() if value is None and name not in forgotten]
        pairs = [part for name, value in fields.items() if value is not None for part in (name, value)]
        version = uuid.uuid4().hex[:16]

        calls = [("commit", self.keys(project_id), [stored, version, independent, CHANGE_LOG, holder,
                                                    len(forgotten), len(deleted), *forgotten, *deleted, *pairs])]
        now = time.time()
        touch = not stored or now - self._touched.get(project_id, 0) > TOUCH_EVERY
        if touch:  # the project's place in the index (least recently changed first out), not at every change
            calls.append(("touch", self._meta, [project_tag(project_id), int(now * 1000), self.limits.max_projects]))
        answer, *touched = await self.redis.scripts_at_once(calls)
        written = answer[0]
        forgotten_projects = touched[0] if touched else []
        if touch and written:
            self._touched[project_id] = now
            while len(self._touched) > CACHED_PROJECTS:
                del self._touched[next(iter(self._touched))]
        for tag in forgotten_projects:  # one call per project: its keys share a slot, two projects' may not
            await self.redis.call(lambda: self.redis.client.delete(*self.keys(unquote(tag.decode(), errors="surrogateescape"))))
        if written == 1 and len(answer) > 1:  # written over others' independent changes: take theirs too
            theirs = self._fields(answer[1])
            if self._versions.get(project_id) == stored:
                redis_codec.apply(world, theirs, lambda d: self._scenario(d, project_id))
            else:  # a read moved the copy meanwhile, maybe past these values: the next read takes them
                self._reread.setdefault(project_id, set()).update(theirs)
        if written:  # (2: written already, by this call sent before; what came between is read whole next)
            self._versions[project_id] = version if written == 1 else STALE
        return bool(written)

    async def reserve_added(self, project_id: str, count: int) -> bool:
        return bool(await self.redis.script("reserve", self._meta[1:],
                                            [project_tag(project_id), count, self.limits.max_added_scenarios_total]))

    async def reset(self, project_id: str | None = None) -> None:
        if project_id is not None:
            await self.redis.script("forget", self._meta, [project_tag(project_id)])
            await self.redis.call(lambda: self.redis.client.delete(*self.keys(project_id)))
            self._cache.pop(project_id, None)
            self._versions.pop(project_id, None)
            self._reread.pop(project_id, None)
            return
        tags = await self.redis.call(lambda: self.redis.client.zrange(self._meta[0], 0, -1))

        async def delete_all():
            async with self.redis.client.pipeline(transaction=False) as pipe:
                for tag in tags:
                    pipe.delete(*self.keys(unquote(tag.decode(), errors="surrogateescape")))
                return await pipe.execute()

        if tags:
            await self.redis.call(delete_all)
        await self.redis.call(lambda: self.redis.client.delete(*self._meta))
        self._cache.clear()
        self._versions.clear()
        self._reread.clear()

    # ---- the rest
    async def health(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            projects = await self.redis.call(lambda: self.redis.client.zcard(self._meta[0]))
        except StoreUnavailable as exc:
            return {"kind": "redis", "status": "unavailable", "url": self.redis.url, "error": str(exc)}
        return {"kind": "redis", "status": "ok", "url": self.redis.url, "projects": projects,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2)}

    def journal(self, mask: list[str]) -> "RedisJournal":
        return RedisJournal(self.redis, self.limits, mask)

    async def close(self) -> None:
        await self.redis.client.aclose()


class RedisJournal(JournalFormat):
    """The journal (see ``journal.py``) kept in Redis, with the same bounds, eviction and reading.

    Entries recorded while a round trip is on its way go together in the next one (``Redis.script``);
    each request still waits until its own entry is in Redis, so whoever it answered reads it next."""

    def __init__(self, redis_: Redis, limits: Limits, mask: list[str]):
        super().__init__(limits.journal_entries, limits.journal_bytes, limits.journal_body_bytes, mask)
        self.redis = redis_
        base = f"{PREFIX}:{{journal}}"
        self._usage, self._totals, self._list = f"{base}:usage", f"{base}:totals", f"{base}:p:"

    async def add(self, entry: dict[str, Any], size: int | None = None) -> None:
        weight = self.weigh(entry, True, size)
        tag = project_tag(entry.get("project_id"))
        text = json.dumps(_stored(entry), separators=(",", ":"))
        weight = max(weight, ENTRY_OVERHEAD + len(text))  # what Redis holds (a byte over 0x7f takes six)
        await self.redis.script("record", [self._usage, self._totals, self._list + tag],
                                [self.size, self.max_bytes, self._list, tag, weight, text])

    async def read(self, project_id: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        return self.select(await self._lines(project_id), load=_loaded_line, **filters)

    async def page(self, project_id: str | None = None, **filters: Any) -> JournalPage:
        return await self.paged(await self._lines(project_id), load=_loaded_line, **filters)

    async def _lines(self, project_id: str | None) -> list[tuple[int, bytes]]:
        """The stored entries (of one project, or all) as (id, line), by id: each is loaded when read."""
        if project_id is not None:
            lists = [await self.redis.call(lambda: self.redis.client.lrange(self._list + project_tag(project_id),
                                                                             0, -1))]
        else:
            tags = await self.redis.call(lambda: self.redis.client.zrange(self._usage, 0, -1))

            async def all_lists():
                async with self.redis.client.pipeline(transaction=False) as pipe:
                    for tag in tags:
                        pipe.lrange(self._list + tag.decode(), 0, -1)
                    return await pipe.execute()

            lists = await self.redis.call(all_lists) if tags else []
        return sorted(((int(line.split(b" ", 1)[0]), line) for found in lists for line in found), key=lambda c: c[0])

    async def remove(self, project_id: str | None = None) -> int:
        if project_id is not None:
            tag = project_tag(project_id)
            return await self.redis.script("clear", [self._usage, self._totals, self._list + tag], [tag])
        tags = await self.redis.call(lambda: self.redis.client.zrange(self._usage, 0, -1))
        deleted = 0
        for tag in tags:
            tag = tag.decode()
            deleted += await self.redis.script("clear", [self._usage, self._totals, self._list + tag], [tag])
        return deleted

    async def stats(self) -> dict[str, int]:
        entries, used = await self.redis.call(lambda: self.redis.client.hmget(self._totals, "entries", "bytes"))
        return {"entries": int(entries or 0), "bytes": int(used or 0)}


def _text(value: bytes | bytearray | None) -> str | None:
    return None if value is None else bytes(value).decode("latin-1")


def _stored(entry: dict[str, Any]) -> dict[str, Any]:
    """A raw journal entry as JSON can carry it: bytes as Latin-1 text (each byte one character)."""
    stored = {**entry, "query": _text(entry.get("query")), "body": _text(entry.get("body")),
              "headers": [[_text(k), _text(v)] for k, v in entry.get("headers") or []]}
    response = entry.get("response")
    if response is not None:
        stored["response"] = {"headers": [[_text(k), _text(v)] for k, v in response["headers"]],
                              "body": _text(response["body"])}
    return stored


def _loaded_line(candidate: tuple[int, bytes]) -> dict[str, Any]:
    return _loaded(candidate[1])


def _loaded(line: bytes) -> dict[str, Any]:
    """An entry as :func:`_stored` wrote it, raw again, with its id and weight."""
    entry_id, weight, text = line.split(b" ", 2)
    entry = json.loads(text)

    def raw(value: str | None) -> bytes | None:
        return None if value is None else value.encode("latin-1")

    entry.update(id=int(entry_id), _weight=int(weight), _raw=True, query=raw(entry["query"]) or b"",
                 body=raw(entry["body"]), headers=[(raw(k), raw(v)) for k, v in entry["headers"]])
    if entry.get("response") is not None:
        entry["response"] = {"headers": [(raw(k), raw(v)) for k, v in entry["response"]["headers"]],
                             "body": raw(entry["response"]["body"]) or b""}
    return entry
