"""The Lua scripts of the Redis backend. Each one is atomic; writes into a run are fenced by its owner token.

Status moves ``queued -> running -> finished | failed | cancelled`` by compare-and-set. A worker that
lost its lease (the reaper ended the run, or it was claimed elsewhere) finds its token no longer matches
and cannot write into the run.
"""

from __future__ import annotations

from typing import Final

__all__ = (
    "APPEND",
    "APPEND_FINISH",
    "CLAIM",
    "DELETE_THREAD",
    "END_QUEUED",
    "EXPIRE",
    "FINISH",
    "HEARTBEAT",
    "OPEN",
    "RELEASE",
    "REQUEUE",
    "SETTLED",
    "SUBMIT",
)

_NOW: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

_ADD: Final = """
local function add(key, last, keep, types, payloads, continues)
  keep = tonumber(keep)
  local args = {key}
  if last > keep then
    args[#args + 1] = 'MINID'
    args[#args + 1] = '~'
    args[#args + 1] = '0-' .. (last - keep)
  end
  args[#args + 1] = '0-' .. last
  args[#args + 1] = 't'
  args[#args + 1] = types
  args[#args + 1] = 'd'
  args[#args + 1] = payloads
  if continues then
    args[#args + 1] = 'c'
    args[#args + 1] = '1'
  end
  redis.call('XADD', unpack(args))
end
"""
"""Append one entry (a batch of events, entries.py) whose last event is number ``last``; keep about the last
``keep`` events (``MINID``: entries wholly older than that go). ``continues``: the entry ends with a
terminal event after which the run goes on (it was queued once more)."""

_WIDE: Final = (
    _ADD
    + """
local function write_wide(K, count, types, payloads, feedmax, ttl_ms)
  for k = 5, 8, 3 do
    if redis.call('EXISTS', K[k + 2]) == 1 then
      add(K[k], redis.call('INCRBY', K[k + 1], count), feedmax, types, payloads, false)
      redis.call('PEXPIRE', K[k], ttl_ms)
    end
  end
end
"""
)
"""``add``, and ``write_wide``: a batch of ``count`` events of a run into the server's feed and its agent's feed,
each only while someone watches it (its marker key exists), kept for ``ttl_ms`` after the last write. ``K``:
the keys of ``Keys.appended`` (the (feed, feedseq, watched) of the server from 5 on, of the agent from 8 on).
Every event a run writes goes there through this one function: its batches (``write_events``) and the
terminal events of ``append_one``. Like a thread's feed, a wide feed's entries never carry ``continues``
(``c``): its readers go on past every terminal event (a feed holds many runs; ``ends_at_terminal=False``)."""

_APPEND_ONE: Final = (
    _WIDE
    + """
-- append_one: one event written by a script that ends a run not holding its lease (the reaper's, a stop of a
-- queued run), into the run's log, its thread's feed and, while watched, the server's and the agent's feeds.
-- K: Keys.appended (meta, log, feed, feedseq, then (feed, feedseq, watched) of the server and of the agent).
local function append_one(K, maxlen, feedmax, etype, payload, continues, retention)
  local seq = redis.call('HINCRBY', K[1], 'seq', 1)
  add(K[2], seq, maxlen, etype, payload, continues)
  add(K[3], redis.call('INCR', K[4]), feedmax, etype, payload, false)
  redis.call('PEXPIRE', K[3], retention)
  if redis.call('PTTL', K[4]) == -1 then
    redis.call('PEXPIRE', K[4], 604800000)  -- a week, like a stored thread (see APPEND)
  end
  write_wide(K, 1, etype, payload, feedmax, retention)
  if etype == 'RUN_FINISHED' or etype == 'RUN_ERROR' then
    redis.call('HSET', K[1], 'terminal', 1)
  end
  return seq
end
"""
)

_END_RUN: Final = """
local function end_run(meta, log, index, active, run_id, status, retention)
  local owner_runs = redis.call('HGET', meta, 'owner_runs')
  if owner_runs and owner_runs ~= '' then
    redis.call('ZREM', owner_runs, run_id)  -- (its owner's runs in progress: SUBMIT names the key)
  end
  redis.call('HSET', meta, 'status', status, 'owner', '')
  redis.call('ZREM', index, run_id)
  redis.call('PEXPIRE', meta, retention)
  redis.call('PEXPIRE', log, retention)
  if redis.call('GET', active) == run_id then
    redis.call('DEL', active)
  end
end
"""
"""Set a run's final status, drop it from its index, start its retention, free its thread."""

_APPEND_BATCH: Final = (
    _WIDE
    + """
-- K: meta, log, feed, feedseq, then (feed, feedseq, watched) of the server and of the run's agent
-- (Keys.appended).
-- write_events: one entry per batch in the run's log and one in the thread's feed (entries.py), and one in the
-- server's and the agent's feeds while someone watches them; returns the number of the batch's last event.
-- The thread feed's numbering lives as long as the stored thread (seq_ttl_ms, 0: no expiry), longer than the
-- feed itself, so that it never starts again from 1 under a subscriber's cursor.
local function write_events(K, count, types, payloads, terminal, maxlen, feedmax, ttl_ms, seq_ttl_ms)
  local seq = redis.call('HINCRBY', K[1], 'seq', count)
  add(K[2], seq, maxlen, types, payloads, false)
  add(K[3], redis.call('INCRBY', K[4], count), feedmax, types, payloads, false)
  if terminal == '1' then
    redis.call('HSET', K[1], 'terminal', 1)
  end
  for i = 1, 3 do
    redis.call('PEXPIRE', K[i], ttl_ms)
  end
  if tonumber(seq_ttl_ms) > 0 then
    redis.call('PEXPIRE', K[4], seq_ttl_ms)
  end
  write_wide(K, count, types, payloads, feedmax, ttl_ms)
  return seq
end

-- append_batch: a batch of the run that token A[1] holds. A: token, maxlen, feedmax, ttl_ms, count, types,
-- payloads, terminal, seq_ttl_ms, written (the run's last event number before this batch, as the writer
-- knows it). A batch sent again after its reply was lost (Redis went away) is already there: its number is
-- returned and nothing is written twice; -1 when the run is not the caller's; -2 when the log is neither
-- before nor after the batch (Redis lost writes it had acknowledged).
local function append_batch(K, A)
  if redis.call('HGET', K[1], 'owner') ~= A[1] or redis.call('HGET', K[1], 'status') ~= 'running' then
    return -1
  end
  local count = tonumber(A[5])
  local have = tonumber(redis.call('HGET', K[1], 'seq'))
  if have == tonumber(A[10]) + count then
    return have
  end
  if have ~= tonumber(A[10]) then
    return -2
  end
  return write_events(K, count, A[6], A[7], A[8], A[2], A[3], A[4], A[9])
end
"""
)

SUBMIT: Final = (
    _APPEND_BATCH
    + """
-- KEYS: meta, queue, queued, active, log, leases, owner_runs, interrupts, then the thread's feed and feedseq and
-- the (feed, feedseq, watched) of the server and of the agent (Keys.appended from the feed on), and optionally
-- the wake-up stream of the web process's stream reader that is to follow the run (mirror.py: woken in this
-- round trip rather than by a poke of its own) ; ARGV: run_id, thread_id, agent_id, legacy, input, policy,
-- lock_ms, start_ms, max_runs (0: none), max_owner_runs (0: none), the run's RUN_STARTED (its payload),
-- maxlen, feedmax, retention_ms, seq_ttl_ms (as APPEND's), trace (the web side's trace context,
-- observability.telemetry.handoff; '' when untraced), then the resume's answers: their count and
-- (interrupt id, status) pairs
-- Admission and submission in one step: 'exists' (the run is known and this is its retried request, or it
-- is another thread's: re-attach or conflict), 'busy' and the thread's run in progress, 'interrupts' when the
-- answers are not exactly the thread's open interrupts (an expired one may only be cancelled), or 'queued'
-- with the thread's lock taken, the interrupts answered, the run's RUN_STARTED its first event (so that its
-- clients have it without waiting for a worker; the worker that claims it writes from the second) and the
-- run in the work queue (with the runs queued, for the queue depth metric). A new request
-- (another input) that reuses the runId of an ended run on the same thread is a new run: the old one's
-- status and log go.
local generation = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local known = redis.call('HMGET', KEYS[1], 'input', 'thread_id', 'status')
  if known[1] == ARGV[5] or known[2] ~= ARGV[2] then
    return {'exists'}
  end
  if known[3] ~= 'finished' and known[3] ~= 'failed' and known[3] ~= 'cancelled' then
    return {'busy', ARGV[1]}
  end
  generation = (tonumber(redis.call('HGET', KEYS[1], 'generation')) or 0) + 1
  redis.call('DEL', KEYS[1], KEYS[5])
end
local holder = redis.call('GET', KEYS[4])
if holder and holder ~= ARGV[1] then
  return {'busy', holder}
end
"""
    + _NOW
    + """
-- caps: runs in progress on the server (queued or running), and the owner's (a sorted set the runs' ends
-- clear; entries a day old are dropped, should one ever be left behind)
if tonumber(ARGV[9]) > 0 and redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[6]) >= tonumber(ARGV[9]) then
  return {'full'}
end
if tonumber(ARGV[10]) > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - 86400000)
  if redis.call('ZCARD', KEYS[7]) >= tonumber(ARGV[10]) then
    return {'owner_full'}
  end
  redis.call('ZADD', KEYS[7], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[7], 86400000)
end
local open = redis.call('HGETALL', KEYS[8])
local answers = tonumber(ARGV[17])
if #open > 0 or answers > 0 then
  if #open ~= 2 * answers then
    return {'interrupts'}
  end
  local expiry = {}
  for i = 1, #open, 2 do
    expiry[open[i]] = tonumber(open[i + 1])
  end
  for i = 0, answers - 1 do
    local id, status = ARGV[18 + 2 * i], ARGV[19 + 2 * i]
    local expires = expiry[id]
    if expires == nil or (status == 'resolved' and expires > 0 and expires <= now) then
      return {'interrupts'}
    end
    expiry[id] = nil  -- (answered twice: the second finds it gone)
  end
  redis.call('DEL', KEYS[8])
end
redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[7])
redis.call('HSET', KEYS[1], 'status', 'queued', 'thread_id', ARGV[2], 'agent_id', ARGV[3], 'legacy', ARGV[4],
  'input', ARGV[5], 'policy', ARGV[6], 'created_ms', now, 'seq', 0, 'cancel', 0, 'terminal', 0, 'attempt', 0,
  'start_ms', ARGV[8], 'generation', generation, 'owner_runs', tonumber(ARGV[10]) > 0 and KEYS[7] or '',
  'started', 1, 'trace', ARGV[16])
write_events({KEYS[1], KEYS[5], unpack(KEYS, 9, 16)}, 1, 'RUN_STARTED', ARGV[11], '0', ARGV[12], ARGV[13], ARGV[14],
  ARGV[15])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[3], now + ARGV[8], ARGV[1])  -- by the deadline for a worker to take it
redis.call('XADD', KEYS[2], '*', 'run', ARGV[1], 'thread', ARGV[2])
if KEYS[17] then
  redis.call('XADD', KEYS[17], 'MAXLEN', 1, '*', 'w', 1)
  redis.call('PEXPIRE', KEYS[17], 60000)
end
return {'queued', redis.call('ZCARD', KEYS[3])}
"""
)

CLAIM: Final = (
    """
-- KEYS: queue, leases, queued ; ARGV: group, worker_id, count, token prefix, lease_ms, then what a run's meta key
-- and a thread's key are around their ids (Keys.meta, Keys.thread)
-- Claims the queue entries delivered to this worker (its consumer) and not yet claimed, up to count: a worker
-- sends this right behind its XREADGROUP, in the same write, and Redis runs it as soon as that read returns,
-- so a run is handed over and claimed in one round trip. Each entry goes off the queue; its run goes from
-- queued to running under the token prefix .. entry id (an entry is claimed once: it is deleted here).
-- Returns, per run claimed: its id, its token, then what the run needs ('started': its RUN_STARTED is in its
-- log already, SUBMIT wrote it), the thread's stored history, the trace context the web side handed over, the
-- runs still queued and the milliseconds since the run's submission (for the metrics). A run no longer queued
-- (stopped, ended by the reaper, claimed elsewhere) is left out.
"""
    + _NOW
    + """
local claims = {}
for _, pending in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', ARGV[3], ARGV[2])) do
  local entry_id = pending[1]
  local entry = redis.call('XRANGE', KEYS[1], entry_id, entry_id)[1]
  redis.call('XACK', KEYS[1], ARGV[1], entry_id)
  redis.call('XDEL', KEYS[1], entry_id)
  local run, thread = nil, nil
  if entry then
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'run' then run = fields[i + 1] elseif fields[i] == 'thread' then thread = fields[i + 1] end
    end
  end
  local meta = run and ARGV[6] .. run .. ARGV[7]
  if meta and redis.call('HGET', meta, 'status') == 'queued' then
    local token = ARGV[4] .. entry_id
    redis.call('HSET', meta, 'status', 'running', 'owner', token, 'lease_until', now + ARGV[5], 'worker', ARGV[2])
    redis.call('HINCRBY', meta, 'attempt', 1)
    redis.call('ZADD', KEYS[2], now + ARGV[5], run)
    redis.call('ZREM', KEYS[3], run)
    local claim = redis.call('HMGET', meta, 'input', 'agent_id', 'legacy', 'thread_id', 'cancel', 'policy',
      'generation', 'seq', 'started', 'trace', 'created_ms')
    thread = thread or claim[4] or ''
    claims[#claims + 1] = {run, token, claim[1], claim[2], claim[3], claim[4], claim[5], claim[6], claim[7],
      claim[8], claim[9], redis.call('GET', ARGV[8] .. thread .. ARGV[9]), claim[10] or '',
      redis.call('ZCARD', KEYS[3]), now - (tonumber(claim[11]) or now)}
  end
end
return claims
"""
)

RELEASE: Final = (
    """
-- KEYS: meta, leases, queued, queue ; ARGV: token, run_id, thread_id
-- A run a worker claimed as it began to stop, before its agent started: back in the queue for another worker,
-- queued as a run queued once more is (with a new deadline for a worker to take it).
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'status') ~= 'running' then
  return 0
end
"""
    + _NOW
    + """
redis.call('HSET', KEYS[1], 'status', 'queued', 'owner', '')
redis.call('HINCRBY', KEYS[1], 'attempt', -1)
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], now + tonumber(redis.call('HGET', KEYS[1], 'start_ms') or 30000), ARGV[2])
redis.call('XADD', KEYS[4], '*', 'run', ARGV[2], 'thread', ARGV[3])
return 1
"""
)

APPEND: Final = (
    _APPEND_BATCH
    + """
-- KEYS and ARGV: append_batch's K and A.
return append_batch(KEYS, ARGV)
"""
)

HEARTBEAT: Final = (
    """
-- KEYS: meta, leases, active, log ; ARGV: token, lease_ms, run_id, lock_ms, retention_ms
-- Renews the lease and the thread's lock, and keeps the run's keys alive while its agent is silent.
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'status') ~= 'running' then
  return -1
end
"""
    + _NOW
    + """
redis.call('HSET', KEYS[1], 'lease_until', now + ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[4], ARGV[5])
redis.call('ZADD', KEYS[2], now + ARGV[2], ARGV[3])
if redis.call('GET', KEYS[3]) == ARGV[3] then
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
return tonumber(redis.call('HGET', KEYS[1], 'cancel'))
"""
)

_STORE_AND_END: Final = (
    _END_RUN
    + """
-- Stores the thread as the run left it (unless its JSON is empty), in its owner's index, its creation time
-- (the first store's) and its open interrupts, and ends the run, in one step.
-- K: meta, log, leases, active, thread, threads, interrupts, owner_threads, thread_info, and with a durable
-- thread store its 'durable' hash (the thread to be written there: its version and this run).
-- A[i] status, then retention_ms, run_id, thread_json, thread_ttl_ms, updated_ms, thread_id and the interrupts
-- the run leaves open as (id, expiry in Unix ms) pairs. Returns how many threads are stored (0: none stored).
local function store_and_end(K, A, i)
  local stored = 0
  if A[i + 3] ~= '' then
    local ttl = tonumber(A[i + 4])
    if ttl > 0 then
      redis.call('SET', K[5], A[i + 3], 'PX', ttl)
    else
      redis.call('SET', K[5], A[i + 3])
    end
    redis.call('ZADD', K[6], A[i + 5], A[i + 6])
    redis.call('ZADD', K[8], A[i + 5], A[i + 6])
    redis.call('HSETNX', K[9], 'created', A[i + 5])
    if ttl > 0 then
      redis.call('PEXPIRE', K[9], ttl)
    end
    if K[10] then
      redis.call('HSET', K[10], A[i + 6], A[i + 5] .. ':' .. A[i + 2])
    end
    stored = redis.call('ZCARD', K[6])
    redis.call('DEL', K[7])
    if #A > i + 6 then
      redis.call('HSET', K[7], unpack(A, i + 7))
      if ttl > 0 then
        redis.call('PEXPIRE', K[7], ttl)
      end
    end
  end
  end_run(K[1], K[2], K[3], K[4], A[i + 2], A[i], A[i + 1])
  return stored
end
"""
)

FINISH: Final = (
    _STORE_AND_END
    + """
-- KEYS: store_and_end's K ; ARGV: token, then store_and_end's A from its status on
-- Returns -1 when the run is no longer the caller's, else how many threads are stored.
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return -1
end
return store_and_end(KEYS, ARGV, 2)
"""
)

APPEND_FINISH: Final = (
    _APPEND_BATCH
    + _STORE_AND_END
    + """
-- The run's last batch (its terminal event last) and its end in one step: APPEND then FINISH.
-- KEYS: APPEND's, then store_and_end's K from leases on (leases, active, thread, threads, ...)
-- ARGV: APPEND's, then FINISH's from its status on (status, retention_ms, run_id, thread_json, ...)
-- Returns {the run's last event number, threads stored}, or {-1 or -2, 0} as APPEND. Sent again after its
-- reply was lost, it finds the run ended by the same token and answers as the first time did (bar the count).
if redis.call('HGET', KEYS[1], 'finished_by') == ARGV[1] and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return {tonumber(redis.call('HGET', KEYS[1], 'seq')), 0}
end
local seq = append_batch(KEYS, ARGV)
if seq < 0 then
  return {seq, 0}
end
redis.call('HSET', KEYS[1], 'finished_by', ARGV[1])
return {seq, store_and_end({KEYS[1], KEYS[2], unpack(KEYS, 11)}, ARGV, 11)}
"""
)

DELETE_THREAD: Final = """
-- KEYS: active, threads, owner_threads, durable, then the thread's keys (Keys.of_thread: its JSON first)
-- ARGV: thread_id
-- Deletes a thread unless a run holds it: {'busy', run_id}, else {'deleted', 1 when it was stored}.
local holder = redis.call('GET', KEYS[1])
if holder then
  return {'busy', holder}
end
local existed = redis.call('EXISTS', KEYS[5])
redis.call('DEL', unpack(KEYS, 5))
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return {'deleted', existed}
"""

SETTLED: Final = """
-- KEYS: durable ; ARGV: thread_id, the entry that was written to the durable store
-- Clears a thread's entry once that store has it, unless a later run set it anew meanwhile.
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""

EXPIRE: Final = (
    _APPEND_ONE
    + _END_RUN
    + """
-- KEYS: meta, log, feed, feedseq, then (feed, feedseq, watched) of the server and of the run's agent
-- (Keys.appended), then leases, active, queue, queued (Keys.expired)
-- ARGV: run_id, lost_payload, retention_ms, maxlen, feedmax, retry_payload
-- A running run whose lease ran out: 1, ended with RUN_ERROR WORKER_LOST; 2, its agent is safe to repeat and
-- this was its first attempt: the attempt ends with a RUN_ERROR the run goes on after ('c' in its log) and
-- the run is queued once more (not an end); 3, ended with the terminal event its worker wrote before it died
-- (that worker counted the end); 0: it is not running, or its lease still holds.
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'running' then
  redis.call('ZREM', KEYS[11], ARGV[1])
  return 0
end
"""
    + _NOW
    + """
if tonumber(redis.call('HGET', KEYS[1], 'lease_until')) > now then
  return 0
end
local finished = redis.call('HGET', KEYS[1], 'terminal') == '1'
if not finished and redis.call('HGET', KEYS[1], 'repeatable') == '1'
    and tonumber(redis.call('HGET', KEYS[1], 'attempt')) < 2 then
  -- the agent said it is safe to repeat: end this attempt, queue the run once more
  append_one(KEYS, ARGV[4], ARGV[5], 'RUN_ERROR', ARGV[6], true, ARGV[3])
  redis.call('HSET', KEYS[1], 'status', 'queued', 'owner', '', 'terminal', 0, 'created_ms', now, 'started', 0)
  redis.call('ZREM', KEYS[11], ARGV[1])
  redis.call('ZADD', KEYS[14], now + tonumber(redis.call('HGET', KEYS[1], 'start_ms') or 30000), ARGV[1])
  redis.call('XADD', KEYS[13], '*', 'run', ARGV[1], 'thread', redis.call('HGET', KEYS[1], 'thread_id'))
  return 2
end
if finished then  -- its worker wrote the run's terminal event, then died before it stored the thread
  end_run(KEYS[1], KEYS[2], KEYS[11], KEYS[12], ARGV[1], 'failed', ARGV[3])
  return 3
end
append_one(KEYS, ARGV[4], ARGV[5], 'RUN_ERROR', ARGV[2], false, ARGV[3])
end_run(KEYS[1], KEYS[2], KEYS[11], KEYS[12], ARGV[1], 'failed', ARGV[3])
return 1
"""
)

END_QUEUED: Final = (
    _APPEND_ONE
    + _END_RUN
    + """
-- KEYS: meta, log, feed, feedseq, then (feed, feedseq, watched) of the server and of the run's agent
-- (Keys.appended), then queued, active (Keys.ended_queued)
-- ARGV: run_id, payload, retention_ms, maxlen, feedmax, event_type, status, due_only
-- Ends a run no worker has taken, with its terminal event: a run past its deadline for a worker (due_only
-- '1': the reaper's NO_WORKER) or one stopped while queued (due_only '0': RUN_FINISHED cancelled), which
-- must be a first attempt whose RUN_STARTED SUBMIT wrote (a run queued once more after a lost worker ends
-- through its next claim instead, which writes its RUN_STARTED first). 1: it ended; 0: it is not queued (a
-- worker claimed it, or it ended), not yet due, or (a stop) not a first attempt.
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then
  redis.call('ZREM', KEYS[11], ARGV[1])
  return 0
end
if ARGV[8] ~= '1' and (redis.call('HGET', KEYS[1], 'started') ~= '1'
    or (tonumber(redis.call('HGET', KEYS[1], 'attempt')) or 0) > 0) then
  return 0
end
"""
    + _NOW
    + """
local due = redis.call('ZSCORE', KEYS[11], ARGV[1])
if ARGV[8] == '1' and due and tonumber(due) > now then
  return 0
end
append_one(KEYS, ARGV[4], ARGV[5], ARGV[6], ARGV[2], false, ARGV[3])
end_run(KEYS[1], KEYS[2], KEYS[11], KEYS[12], ARGV[1], ARGV[7], ARGV[3])
return 1
"""
)

REQUEUE: Final = """
-- KEYS: meta, queue ; ARGV: group, entry_id, run_id, thread_id
-- A queue entry a worker read but never claimed (it died in between): put the run back if still queued.
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[2])
if redis.call('HGET', KEYS[1], 'status') == 'queued' then
  redis.call('XADD', KEYS[2], '*', 'run', ARGV[3], 'thread', ARGV[4])
  return 1
end
return 0
"""

OPEN: Final = (
    """
-- a run published by the team's own worker (RunPublisher): created running, owned by the publisher
-- KEYS: meta, leases, active ; ARGV: run_id, thread_id, legacy, input, token, lease_ms, lock_ms, agent_id
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 'exists'
end
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[1] then
  return 'busy'
end
"""
    + _NOW
    + """
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[7])
redis.call('HSET', KEYS[1], 'status', 'running', 'owner', ARGV[5], 'thread_id', ARGV[2], 'agent_id', ARGV[8],
  'legacy', ARGV[3], 'input', ARGV[4], 'policy', 'continue', 'created_ms', now, 'lease_until', now + ARGV[6],
  'seq', 0, 'cancel', 0, 'terminal', 0, 'attempt', 1, 'worker', 'publisher')
redis.call('ZADD', KEYS[2], now + ARGV[6], ARGV[1])
return 'open'
"""
)
