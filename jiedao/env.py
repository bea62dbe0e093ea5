"""Typed readers for environment variables.

Every setting the platform takes from the environment goes through one of these helpers, so a
bad value stops start-up with a message that names the variable (in Chinese and English)
instead of surfacing later as a confusing error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class EnvError(ImproperlyConfigured):
    """A configuration variable holds a value the platform cannot use."""

    def __init__(self, name: str, value: str, expected: str, expected_en: str) -> None:
        self.name = name
        super().__init__(
            f"环境变量 {name} 的值 {value!r} 无效：{expected}。"
            f" / Environment variable {name}={value!r} is invalid: {expected_en}."
        )


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise EnvError(name, value, "应为 true/false、1/0、yes/no 或 on/off", "expected true/false, 1/0, yes/no or on/off")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(name, value, "应为整数", "expected an integer") from None
    if minimum is not None and number < minimum:
        raise EnvError(name, value, f"不能小于 {minimum}", f"must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise EnvError(name, value, f"不能大于 {maximum}", f"must be at most {maximum}")
    return number


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    allowed = list(choices)
    value = env_str(name, default)
    if value not in allowed:
        listed = "、".join(allowed)
        raise EnvError(name, value, f"应为以下之一：{listed}", f"expected one of {', '.join(allowed)}")
    return value


def env_list(name: str, default: Iterable[str] = ()) -> list[str]:
    value = _raw(name)
    if value is None or value == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    value = _raw(name)
    path = default if value is None or value == "" else Path(value).expanduser()
    path = path.resolve()
    if path.exists() and not path.is_dir():
        raise EnvError(name, str(path), "应为一个目录，但该路径是文件", "expected a directory, the path is a file")
    return path


def env_database_url(name: str, default: str) -> str:
    value = env_str(name, default)
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise EnvError(
            name,
            value,
            "应为 sqlite:///路径 或 postgres://用户@主机:端口/库名",
            "expected sqlite:///path or postgres://user@host:port/dbname",
        )
    return value


def env_queue_url(name: str) -> str:
    """A Redis URL for the task queue (`redis://host:6379/5`, `rediss://…` for TLS), or "" for none."""
    import re
    from urllib.parse import urlsplit

    value = env_str(name)
    if not value:
        return ""
    expected = ("应为 redis://主机:端口/库号（TLS 用 rediss://），如 redis://127.0.0.1:6379/5",
                "expected redis://host:port/db (rediss:// for TLS), e.g. redis://127.0.0.1:6379/5")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        raise EnvError(name, value, *expected) from None
    db = parts.path.strip("/")
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname or (db and not re.fullmatch(r"\d{1,2}", db)):
        raise EnvError(name, value, *expected)
    return value


def env_name(name: str, default: str) -> str:
    """A short identifier (letters, digits, `_ . : -`), e.g. a queue name."""
    import re

    value = env_str(name, default)
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", value):
        raise EnvError(name, value, "只能包含字母、数字和 _ . : -（64 个字符以内）",
                       "only letters, digits and _ . : - (at most 64 characters)")
    return value


PUBLIC_SUBDIRS = frozenset({"static"})  # collected static assets: nothing private, possibly many files


def private_data_dir(root: Path) -> None:
    """Make the data directory readable by the platform's user only: directories 0700, files 0600
    (an install made before the umask was set left the SQLite file and others 0644). Files created
    later are covered by the process umask (settings)."""
    try:
        root.chmod(0o700)
    except OSError:
        return
    for top, dirs, files in os.walk(root):
        if Path(top) == root:
            dirs[:] = [d for d in dirs if d not in PUBLIC_SUBDIRS]
        for name, mode in [(d, 0o700) for d in dirs] + [(f, 0o600) for f in files]:
            path = os.path.join(top, name)
            try:
                current = os.lstat(path).st_mode
                if not os.path.islink(path) and current & 0o077:
                    os.chmod(path, (current & 0o700) | (mode & 0o700))
            except OSError:
                continue
