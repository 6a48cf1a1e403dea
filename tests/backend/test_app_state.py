"""The one accessor of the app_state table, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from backend import app_state


def test_a_value_is_put_read_replaced_and_removed(session):
    assert app_state.get(session, "test.one") is None
    app_state.put(session, "test.one", "first")
    session.commit()
    assert app_state.get(session, "test.one") == "first"
    app_state.put(session, "test.one", "second")
    session.commit()
    assert app_state.get(session, "test.one") == "second"
    app_state.put(session, "test.one", None)
    session.commit()
    assert app_state.get(session, "test.one") is None


def test_json_objects_come_back_and_anything_else_reads_as_none(session):
    app_state.put_json(session, "test.json", {"name": "أحمد", "count": 3})
    app_state.put(session, "test.list", "[1, 2]")
    app_state.put(session, "test.broken", "{not json")
    session.commit()
    assert app_state.get_json(session, "test.json") == {"name": "أحمد", "count": 3}
    assert app_state.get_json(session, "test.list") is None
    assert app_state.get_json(session, "test.broken") is None
    assert app_state.get_json(session, "test.absent") is None


def test_many_keys_and_a_prefix_are_read_at_once(session):
    for key, value in {"group.a": "1", "group.b": "2", "other.c": "3"}.items():
        app_state.put(session, key, value)
    session.commit()
    assert app_state.get_many(session, ["group.a", "other.c", "group.z"]) == {
        "group.a": "1",
        "other.c": "3",
    }
    assert app_state.with_prefix(session, "group.") == {"group.a": "1", "group.b": "2"}


def test_a_prefix_is_replaced_whole_and_only_its_own_keys_are_taken(session):
    app_state.put(session, "group.a", "1")
    app_state.put(session, "group.b", "2")
    app_state.put(session, "other.c", "3")
    app_state.replace_prefix(session, "group.", {"group.b": "two", "group.d": "4"})
    session.commit()
    assert app_state.with_prefix(session, "group.") == {"group.b": "two", "group.d": "4"}
    assert app_state.get(session, "other.c") == "3"
    with pytest.raises(ValueError):
        app_state.replace_prefix(session, "group.", {"other.c": "x"})


def test_a_bare_connection_reads_and_writes_the_same_table(runtime):
    with runtime.engine.begin() as connection:
        app_state.put(connection, app_state.RESTORE_MARKER, "restore-1")
    with runtime.sessions() as session:
        assert app_state.get(session, app_state.RESTORE_MARKER) == "restore-1"
        assert app_state.get(session, app_state.RESTORE_MARKER, for_update=True) == "restore-1"


def test_every_key_the_program_uses_is_named_in_the_accessor():
    """No module writes a key of its own outside backend/app_state.py."""
    from pathlib import Path

    backend = Path(app_state.__file__).parent
    offenders = []
    for path in backend.rglob("*.py"):
        if path.name in ("app_state.py", "models.py") or "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "AppState(" in text or "FROM app_state" in text or "INTO app_state" in text:
            offenders.append(str(path.relative_to(backend)))
    assert offenders == []
