"""Load the overrides file (TOML or YAML): metadata per dump, keyed by the dump's file name."""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

# Keys that steer the import and are never written as metadata.
CONTROL_KEYS = {"title-line"}
DATE_FORMATS = (
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
)


class OverridesError(Exception):
    """The overrides file cannot be used; the message is one line naming the file."""


def load_overrides(path: Path | None) -> dict[str, dict[str, Any]]:
    """Return {dump file name: {lower-case key: value}}; an empty dict when there is no file."""
    if path is None:
        return {}
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OverridesError(f"{path}: cannot read overrides ({exc.strerror})") from None
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(raw)
        else:
            data = yaml.safe_load(raw) or {}
    except tomllib.TOMLDecodeError as exc:
        raise OverridesError(f"{path}: invalid TOML: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise OverridesError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise OverridesError(
            f'{path}: expected one table per dump file name, e.g. ["000_post.txt"] title = "..."'
        )
    return {
        str(name): {str(key).lower().replace("_", "-"): value for key, value in fields.items()}
        for name, fields in data.items()
    }


def override_date(value: Any, source: str) -> datetime:
    """Read a date override (TOML datetime or 'YYYY-MM-DD HH:MM' text); ValueError if unreadable."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(str(value).strip(), fmt)
        except ValueError:
            continue
    raise ValueError(f"{source}: date override {value!r} is not like 'YYYY-MM-DD HH:MM'")
