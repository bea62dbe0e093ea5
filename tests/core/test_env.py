"""Typed environment readers: a bad value names the variable."""

import pytest

from jiedao.env import EnvError, env_bool, env_int


def test_bad_values_name_the_variable(monkeypatch):
    monkeypatch.setenv("JIEDAO_X", "maybe")
    with pytest.raises(EnvError) as exc:
        env_bool("JIEDAO_X")
    assert "JIEDAO_X" in str(exc.value)
    monkeypatch.setenv("JIEDAO_X", "12a")
    with pytest.raises(EnvError):
        env_int("JIEDAO_X", 1)


@pytest.mark.parametrize("value", ["http://127.0.0.1:6379/5", "redis://127.0.0.1:63x9/5", "redis://127.0.0.1:6379/five",
                                   "redis:///5"])
def test_a_bad_queue_url_names_the_variable(monkeypatch, value):
    from jiedao.env import env_queue_url

    monkeypatch.setenv("JIEDAO_QUEUE_URL", value)
    with pytest.raises(EnvError) as exc:
        env_queue_url("JIEDAO_QUEUE_URL")
    assert "JIEDAO_QUEUE_URL" in str(exc.value)


def test_queue_url_accepts_redis_and_empty(monkeypatch):
    from jiedao.env import env_queue_url

    monkeypatch.setenv("JIEDAO_QUEUE_URL", "redis://:secret@127.0.0.1:6379/5")
    assert env_queue_url("JIEDAO_QUEUE_URL") == "redis://:secret@127.0.0.1:6379/5"
    monkeypatch.setenv("JIEDAO_QUEUE_URL", "")
    assert env_queue_url("JIEDAO_QUEUE_URL") == ""
