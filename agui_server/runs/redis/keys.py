"""Key names of the Redis backend (DISTRIBUTED.md §5.3), all under one prefix, in one Redis Cluster hash slot.

Every key of a deployment starts with its prefix in braces (``{agui}:run:<id>:meta``): Redis Cluster hashes
only what is inside the first ``{...}`` of a key, so all of them share one slot. Each Lua script, each
``MULTI`` and each ``XREAD`` over many streams touches keys of one prefix only, and a cluster refuses (with
``CROSSSLOT``) a script or transaction whose keys lie in different slots. A per-run or per-thread tag would
spread keys further, but admission (``SUBMIT``: the run, its thread's lock, the queue, the indexes) and the
reaper's scripts join per-run keys with the shared queue and indexes in one atomic step, so the finest split
that keeps every script whole is the prefix: one deployment (prefix) lives on one shard, and deployments with
different prefixes spread over the shards (BullMQ's ``{queue}`` tag makes the same choice).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agui_server.runs.config import REDIS_PREFIX

__all__ = ("Keys",)


@dataclass(frozen=True, slots=True)
class Keys:
    """Where everything lives in Redis.

    Per run: ``meta`` (hash: status, thread, owner token, lease, cancel flag, seq, input) and ``log``
    (stream; an entry holds a batch of events and its id is ``0-<seq of its last event>``, entries.py).
    Per thread: the admission lock ``active``, the stored thread, the ``feed`` stream of every event of
    every run and its numbering ``feedseq``. Shared: the work ``queue`` (a stream with consumer group
    ``workers``), the ``leases`` and ``queued`` indexes (sorted sets), the ``threads`` index, the
    ``cancel`` channel, and each stream reader's wake-up stream (``hub:<id>``).

    ``prefix`` is put in braces to make every key's hash tag; a prefix that already holds a ``{...}`` hash
    tag of its own (``myapp:{agui}``) is used as it is.
    """

    prefix: str = REDIS_PREFIX
    base: str = field(init=False, repr=False, compare=False)
    """What every key starts with: ``{prefix}`` (or the prefix as given when it has its own hash tag)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", self.prefix if _has_tag(self.prefix) else f"{{{self.prefix}}}")

    def meta(self, run_id: str) -> str:
        """A run's status hash."""
        return f"{self.base}:run:{run_id}:meta"

    def log(self, run_id: str) -> str:
        """A run's event log (a stream)."""
        return f"{self.base}:run:{run_id}:log"

    def active(self, thread_id: str) -> str:
        """A thread's admission lock: the id of its run in progress."""
        return f"{self.base}:thread:{thread_id}:active"

    def thread(self, thread_id: str) -> str:
        """A stored thread (JSON)."""
        return f"{self.base}:thread:{thread_id}:data"

    def interrupts(self, thread_id: str) -> str:
        """A thread's open interrupts (hash: id -> expiry in Unix ms, 0: never), answered atomically."""
        return f"{self.base}:thread:{thread_id}:interrupts"

    def thread_info(self, thread_id: str) -> str:
        """A stored thread's creation time and the title it was renamed to (hash: created (ms), title)."""
        return f"{self.base}:thread:{thread_id}:info"

    def owner_threads(self, owner: str) -> str:
        """An owner's stored threads by last update (ms) (a sorted set), for the list of its threads."""
        return f"{self.base}:owner:{owner}:threads"

    def of_thread(self, thread_id: str) -> list[str]:
        """Every key a stored thread has (deleting the thread deletes them): its JSON, info, open interrupts,
        feed and the feed's numbering."""
        return [
            self.thread(thread_id), self.thread_info(thread_id), self.interrupts(thread_id), self.feed(thread_id),
            self.feed_seq(thread_id),
        ]  # fmt: skip

    def feed(self, thread_id: str) -> str:
        """Every event of every run of a thread (a stream)."""
        return f"{self.base}:thread:{thread_id}:feed"

    def feed_seq(self, thread_id: str) -> str:
        """The last sequence number of a thread's feed."""
        return f"{self.base}:thread:{thread_id}:feedseq"

    def wide_feed(self, agent_id: str | None) -> str:
        """Every event of every run of one agent, or of every agent (``None``), while watched (a stream)."""
        return f"{self.base}:feed:server" if agent_id is None else f"{self.base}:agent:{agent_id}:feed"

    def wide_feed_seq(self, agent_id: str | None) -> str:
        """The last sequence number of an agent's or the server's feed."""
        return self.wide_feed(agent_id) + "seq"

    def wide_feed_watched(self, agent_id: str | None) -> str:
        """Set (with an expiry) while some web process has a subscriber of that feed: runs write to the feed
        only then."""
        return self.wide_feed(agent_id) + ":watched"

    def appended(self, run_id: str, thread_id: str, agent_id: str) -> list[str]:
        """The keys of the ``APPEND`` script for a run."""
        return [
            self.meta(run_id),
            self.log(run_id),
            self.feed(thread_id),
            self.feed_seq(thread_id),
            self.wide_feed(None),
            self.wide_feed_seq(None),
            self.wide_feed_watched(None),
            self.wide_feed(agent_id),
            self.wide_feed_seq(agent_id),
            self.wide_feed_watched(agent_id),
        ]

    def expired(self, run_id: str, thread_id: str, agent_id: str) -> list[str]:
        """The keys of the ``EXPIRE`` script for a run (the reaper's ``WORKER_LOST``): those of ``APPEND``, so that
        its ``RUN_ERROR`` reaches every feed the run's other events reach, then the indexes and the queue."""
        return [*self.appended(run_id, thread_id, agent_id), self.leases, self.active(thread_id), self.queue,
                self.queued]  # fmt: skip

    def ended_queued(self, run_id: str, thread_id: str, agent_id: str) -> list[str]:
        """The keys of the ``END_QUEUED`` script for a run (the reaper's ``NO_WORKER``, a stop while queued): those
        of ``APPEND``, then the ``queued`` index and the thread's lock."""
        return [*self.appended(run_id, thread_id, agent_id), self.queued, self.active(thread_id)]

    def owner_runs(self, owner: str) -> str:
        """An owner's runs in progress (a sorted set by start time), for its cap."""
        return f"{self.base}:owner:{owner}:runs"

    def session(self, session_id: str) -> str:
        """What an outside worker published for a session with ``publish_event`` (a stream)."""
        return f"{self.base}:session:{session_id}:events"

    @property
    def durable(self) -> str:
        """Threads stored in Redis and not yet in the durable store (``RedisBackend(threads_db=…)``): a hash of
        thread key -> ``<updated ms>:<run id>`` that ``FINISH`` sets and the write to that store clears."""
        return f"{self.base}:durable"

    @property
    def queue(self) -> str:
        """Runs waiting for a worker (a stream; consumer group ``workers``)."""
        return f"{self.base}:queue"

    @property
    def leases(self) -> str:
        """Running runs by lease deadline (ms)."""
        return f"{self.base}:leases"

    @property
    def queued(self) -> str:
        """Queued runs by the time (ms) a worker must have taken them by (else ``NO_WORKER``)."""
        return f"{self.base}:queued"

    @property
    def threads(self) -> str:
        """Stored threads by last update (ms)."""
        return f"{self.base}:threads"

    @property
    def cancel(self) -> str:
        """The channel that pokes workers to cancel a run."""
        return f"{self.base}:cancel"

    @property
    def reaper(self) -> str:
        """The lock one reaper at a time holds."""
        return f"{self.base}:reaper"

    @property
    def workers(self) -> str:
        """Live workers by last heartbeat (ms)."""
        return f"{self.base}:workers"

    def hub(self, reader_id: str) -> str:
        """A stream reader's wake-up stream (mirror.py): in the slot of the streams it reads with them."""
        return f"{self.base}:hub:{reader_id}"

    GROUP = "workers"


def _has_tag(prefix: str) -> bool:
    """Whether ``prefix`` holds a hash tag as Redis Cluster reads it: its first ``{``, then the first ``}`` after
    that, with at least one character between."""
    start = prefix.find("{")
    return start >= 0 and prefix.find("}", start + 1) > start + 1
