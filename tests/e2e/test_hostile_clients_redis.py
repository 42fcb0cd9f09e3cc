"""The hostile clients of ``test_hostile_clients.py`` that concern owners, ids, cursors, admission and bad
input, once more against a server whose runs, threads and feeds live in a real redis-server."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from agui_server import RedisBackend
from tests.e2e import test_hostile_clients as hostile
from tests.e2e.test_hostile_clients import (  # the cases, collected here once more
    test_a_bad_cursor_on_a_run_is_400,
    test_a_bad_cursor_on_a_thread_feed_is_400,
    test_a_bad_id_in_a_query_or_side_body_is_422,
    test_a_bad_id_in_the_body_is_422_naming_the_field,
    test_a_burst_of_runs_on_one_thread_admits_exactly_one,
    test_a_client_that_leaves_mid_run_frees_its_thread,
    test_a_message_posted_by_bob_to_alices_thread_id_lands_in_his_own_thread,
    test_another_owner_gets_404_and_nothing_of_alice,
    test_bob_cannot_stop_alices_live_run,
    test_bob_on_alices_thread_id_gets_his_own_thread,
    test_bobs_subscription_to_alices_thread_id_sees_none_of_her_runs,
    test_connect_to_alices_thread_shows_bob_an_empty_thread,
    test_malformed_body_is_refused_before_any_stream,
    test_reusing_alices_run_id_is_a_conflict_that_shows_nothing,
    test_server_and_agent_feeds_are_for_admins,
    test_the_end_of_a_finished_run_is_204,
    test_without_a_valid_token_every_route_is_401,
)
from tests.support.cluster import Cluster

pytestmark = pytest.mark.redis

__all__ = (
    "test_a_bad_cursor_on_a_run_is_400",
    "test_a_bad_cursor_on_a_thread_feed_is_400",
    "test_a_bad_id_in_a_query_or_side_body_is_422",
    "test_a_bad_id_in_the_body_is_422_naming_the_field",
    "test_a_burst_of_runs_on_one_thread_admits_exactly_one",
    "test_a_client_that_leaves_mid_run_frees_its_thread",
    "test_a_message_posted_by_bob_to_alices_thread_id_lands_in_his_own_thread",
    "test_another_owner_gets_404_and_nothing_of_alice",
    "test_bob_cannot_stop_alices_live_run",
    "test_bob_on_alices_thread_id_gets_his_own_thread",
    "test_bobs_subscription_to_alices_thread_id_sees_none_of_her_runs",
    "test_connect_to_alices_thread_shows_bob_an_empty_thread",
    "test_malformed_body_is_refused_before_any_stream",
    "test_reusing_alices_run_id_is_a_conflict_that_shows_nothing",
    "test_server_and_agent_feeds_are_for_admins",
    "test_the_end_of_a_finished_run_is_204",
    "test_without_a_valid_token_every_route_is_401",
)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cluster = Cluster(Path(tmp_path_factory.mktemp("hostile-redis")))
    cluster.start_redis()
    try:
        yield cluster.redis_url
    finally:
        cluster.stop()


@pytest.fixture(autouse=True)
def over_redis(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every app the cases build keeps its runs in Redis (its own key prefix), with worker slots of its own."""
    in_memory = hostile.make_app

    def make_app(**extra: Any) -> Any:
        settings = {"backend": RedisBackend(redis_url, prefix=f"hostile-{uuid.uuid4().hex[:8]}", worker_slots=4)}
        return in_memory(**{**settings, **extra})

    monkeypatch.setattr(hostile, "make_app", make_app)


def test_the_cases_here_really_run_over_redis() -> None:
    from agui_server.http.plugin import AGUIPlugin
    from agui_server.runs.redis import RedisRunBackend

    app = hostile.make_app()
    assert isinstance(app.plugins.get(AGUIPlugin).runs, RedisRunBackend)
