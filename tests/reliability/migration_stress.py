"""Many more kill trials than CI runs: `python -m tests.reliability.migration_stress --trials N
[--seed S] [--extra K]` (K more legacy files per data set)."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from tests.reliability.migration_kill import make_template, run_trial


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--extra", type=int, default=60)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        template = make_template(Path(folder), extra=args.extra)
        print(f"seed {args.seed}; an uninterrupted migration takes {template.duration:.2f} s")
        started = time.monotonic()
        for n in range(1, args.trials + 1):
            with tempfile.TemporaryDirectory() as trial_dir:
                delays = run_trial(template, Path(trial_dir), rng, kills=3)
            print(f"trial {n}: killed at {', '.join(f'{d:.3f}' for d in delays)} s: ok", flush=True)
        print(f"{args.trials} trials passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
