"""The page's "ready" call: the log line that marks the window usable, with the process age."""

from __future__ import annotations

import logging

from backend.process_clock import process_age


def test_ready_logs_the_time_since_the_process_started(client, caplog):
    with caplog.at_level(logging.INFO, logger="backend.api.system"):
        response = client.post("/api/ready")
    assert response.status_code == 204
    (record,) = [r for r in caplog.records if r.getMessage().startswith("ui ready after ")]
    seconds = float(record.getMessage().split()[3])
    assert 0 < seconds <= process_age() + 0.05


def test_ready_needs_the_launch_token(anonymous_client):
    assert anonymous_client.post("/api/ready").status_code == 403


def test_process_age_grows_and_is_plausible():
    first = process_age()
    assert 0 < first < 24 * 3600
    assert process_age() >= first
