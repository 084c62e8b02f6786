"""The environment `kyodo serve --workers N` gives its workers."""

from __future__ import annotations

from broker.config import Settings
from broker.workers import worker_environment


def test_workers_get_the_parents_settings_the_fixed_database_and_a_share_of_the_rate_limit(monkeypatch):
    monkeypatch.delenv("KYODO_MONGO_URL", raising=False)
    settings = Settings(port=1234, workers=3, rate_limit_replicas=2, log_format="json", db_prefix="pref")
    env = worker_environment(settings, "mongodb://127.0.0.1:9/?directConnection=true", 3)
    assert env["KYODO_MONGO_URL"] == "mongodb://127.0.0.1:9/?directConnection=true"
    assert env["KYODO_WORKERS"] == "1"
    assert env["KYODO_RATE_LIMIT_REPLICAS"] == "6"
    assert (env["KYODO_PORT"], env["KYODO_LOG_FORMAT"], env["KYODO_DB_PREFIX"]) == ("1234", "json", "pref")
    monkeypatch.setattr("os.environ", env)
    worker = Settings()
    assert (worker.workers, worker.rate_limit_replicas, worker.port) == (1, 6, 1234)
