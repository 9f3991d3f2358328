"""A job's rate is kept by the store, so it holds across workers and crashes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from capitolmail.outbox import Store

from .old_schema import database_at
from .test_store import NOW, scheduled


def _claim(store: Store, worker: str, at_seconds: float, limit: int = 100) -> int:
    return len(store.claim_due(worker, limit, NOW + timedelta(seconds=at_seconds)))


def test_a_paced_job_hands_out_one_burst_per_turn(store: Store) -> None:
    job_id = scheduled(store, 10)
    store.set_job_options(job_id, rate="2/s")
    store.register_worker("w1", "host-a", 1, NOW)
    assert _claim(store, "w1", 0) == 2  # one second's worth
    assert _claim(store, "w1", 0.5) == 0
    assert store.next_paced_turn(NOW + timedelta(seconds=0.5)) == NOW + timedelta(seconds=1)
    assert _claim(store, "w1", 1.0) == 2
    assert _claim(store, "w1", 1.9) == 0
    assert _claim(store, "w1", 2.0) == 2


def test_the_rate_holds_across_two_workers(store: Store) -> None:
    job_id = scheduled(store, 10)
    store.set_job_options(job_id, rate="60/min")
    store.register_worker("w1", "host-a", 1, NOW)
    store.register_worker("w2", "host-b", 2, NOW)
    assert _claim(store, "w1", 0) == 1
    assert _claim(store, "w2", 0) == 0
    assert _claim(store, "w2", 1) == 1
    assert _claim(store, "w1", 1) == 0


def test_unpaced_jobs_are_not_held_back_by_a_paced_one(store: Store) -> None:
    paced = scheduled(store, 5, slug="slow")
    store.set_job_options(paced, rate="1/min")
    scheduled(store, 5, slug="fast")
    store.register_worker("w1", "host-a", 1, NOW)
    assert _claim(store, "w1", 0) == 6
    assert _claim(store, "w1", 1) == 0  # fast is all claimed; slow waits a minute


def test_no_turn_is_waited_for_once_nothing_is_queued(store: Store) -> None:
    job_id = scheduled(store, 1)
    store.set_job_options(job_id, rate="1/min")
    store.register_worker("w1", "host-a", 1, NOW)
    assert _claim(store, "w1", 0) == 1
    assert store.next_paced_turn(NOW) is None


def test_a_database_at_0001_is_upgraded_with_its_jobs_intact(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with database_at(url, "0001") as conn:
        conn.exec_driver_sql(
            "INSERT INTO jobs (letter_slug, kind, state, created_at, total, options) "
            "VALUES ('arms-sale', 'joint', 'draft', '2026-11-01 09:00:00+00:00', 0, '{}')"
        )
    with Store.open(url) as store:
        [job] = store.list_jobs()
        assert (job.id, job.letter_slug, job.state) == (1, "arms-sale", "draft")
        store.set_job_options(1, rate="5/s")
        assert store.get_job(1).options == {"rate": "5/s"}
