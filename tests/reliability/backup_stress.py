"""Many more random kills than the test suite runs:
`python -m tests.reliability.backup_stress --trials 200`. Each trial copies a template
installation, starts a restore (or a backup) in a subprocess, kills it with SIGKILL at a random
instant, starts the program again and checks that the data is the old or the new, complete,
and that no incomplete backup carries a final name."""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from tests.reliability.backup_kill import (
    drive,
    final_backups_are_whole,
    fresh_copy,
    make_template,
    state_after_restart,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    outcomes = {"old": 0, "new": 0, "backups kept": 0}
    with tempfile.TemporaryDirectory() as folder:
        template = make_template(Path(folder) / "template")
        for trial in range(args.trials):
            work = Path(folder) / f"trial-{trial}"
            work.mkdir()
            data_dir = fresh_copy(template, work)
            if trial % 4 == 3:
                dest = work / "dest"
                dest.mkdir()
                drive("backup", str(data_dir), str(dest), kill_after_s=rng.uniform(0, 0.4))
                outcomes["backups kept"] += len(final_backups_are_whole(dest))
                assert state_after_restart(data_dir) == template.old
            else:
                delay = rng.uniform(0, 0.6)
                drive("restore", str(data_dir), str(template.archive), kill_after_s=delay)
                state = state_after_restart(data_dir)
                assert state in (template.old, template.new), f"trial {trial}: mixed data"
                outcomes["old" if state == template.old else "new"] += 1
            print(f"trial {trial + 1}/{args.trials}: {outcomes}", flush=True)
    print(f"all {args.trials} trials passed: {outcomes}")


if __name__ == "__main__":
    main()
