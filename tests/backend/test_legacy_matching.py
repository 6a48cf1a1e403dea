"""Pairing folder-only legacy rows with the files of their folder: deterministic, never two rows
on one file, and what cannot be told apart is left unmatched rather than guessed."""

from __future__ import annotations

import random
from pathlib import Path

from backend.legacy.matching import RowRef, match_folder, name_time_ms, timestamp_ms

MS = 1_751_793_462_764
FOLDER = Path("dental_images/p/8/xray")


def files(*names: str) -> list[Path]:
    return [FOLDER / name for name in names]


def test_one_row_and_one_file_belong_together_even_without_times():
    matched = match_folder([RowRef("a", None)], files("scan.png"))
    assert matched.pairs == {"a": FOLDER / "scan.png"}
    assert not matched.unmatched_rows and not matched.unmatched_files


def test_as_many_rows_as_files_pair_by_creation_order_against_name_times():
    rows = [RowRef("late", MS + 300_000), RowRef("early", MS + 5), RowRef("mid", MS + 100_000)]
    found = files(
        f"c_{MS + 300_010}-{MS + 300_011}.png",
        f"a_{MS}-{MS + 1}.png",
        f"b_{MS + 100_002}-{MS + 100_003}.png",
    )
    matched = match_folder(rows, found)
    assert {key: path.name[0] for key, path in matched.pairs.items()} == {
        "early": "a",
        "mid": "b",
        "late": "c",
    }


def test_more_files_than_rows_pairs_only_times_within_two_minutes():
    rows = [RowRef("near", MS + 1_000), RowRef("far", MS + 10_000_000)]
    found = files(f"x_{MS}-{MS + 1}.png", f"y_{MS + 500_000}-{MS + 500_001}.png", "z.png")
    matched = match_folder(rows, found)
    assert matched.pairs == {"near": found[0]}
    assert matched.unmatched_rows == ["far"]
    assert sorted(p.name for p in matched.unmatched_files) == sorted(["z.png", found[1].name])


def test_rows_and_files_without_times_are_not_guessed():
    rows = [RowRef("a", None), RowRef("b", None)]
    matched = match_folder(rows, files("one.png", "two.png"))
    assert matched.pairs == {}
    assert sorted(matched.unmatched_rows) == ["a", "b"] and len(matched.unmatched_files) == 2


def test_two_rows_never_share_a_file_and_the_closest_wins():
    rows = [RowRef("first", MS + 10), RowRef("second", MS + 50_000)]
    only = files(f"s_{MS}-{MS + 1}.png", "notes.png")
    matched = match_folder(rows, only)
    assert matched.pairs == {"first": only[0]}
    assert matched.unmatched_rows == ["second"]


def test_the_result_does_not_depend_on_the_order_rows_and_files_come_in():
    rows = [RowRef(f"r{k}", MS + k * 90_000 + 7) for k in range(6)]
    found = files(*(f"f{k}_{MS + k * 90_000}-{MS + k * 90_000 + 1}.png" for k in range(5)))
    expected = match_folder(rows, found)
    generator = random.Random(7)
    for _ in range(20):
        shuffled_rows, shuffled_files = rows[:], found[:]
        generator.shuffle(shuffled_rows)
        generator.shuffle(shuffled_files)
        again = match_folder(shuffled_rows, shuffled_files)
        assert again.pairs == expected.pairs
        assert sorted(again.unmatched_rows) == sorted(expected.unmatched_rows)
    assert len(set(expected.pairs.values())) == len(expected.pairs)


def test_times_are_read_from_names_and_from_legacy_timestamps():
    assert name_time_ms(f"scan_{MS}-{MS + 1}.png") == MS
    assert name_time_ms("photo-2024.png") is None
    assert timestamp_ms("2025-07-06T09:17:42.764Z") == MS
    assert timestamp_ms(MS) == MS and timestamp_ms(MS // 1000) == MS // 1000 * 1000
    assert timestamp_ms("") is None and timestamp_ms("yesterday") is None
