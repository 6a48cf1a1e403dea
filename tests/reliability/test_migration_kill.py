"""The migration killed with SIGKILL at random instants (30 trials), then started again:
nothing lost, no row pointing at a missing file, no duplicates. More trials:
`python -m tests.reliability.migration_stress --trials N`."""

from __future__ import annotations

import random

import pytest

from tests.reliability.migration_kill import make_template, run_trial

TRIALS = 30


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("kill-template"))


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_killed_migration_finishes_on_the_next_start_with_nothing_lost(template, tmp_path, trial):
    run_trial(template, tmp_path, random.Random(1000 + trial))
