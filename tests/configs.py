"""Writing lurge configuration files for tests (a tiny TOML writer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(sections: Mapping[str, Any]) -> str:
    """TOML text for {section: {key: value}}; a list of tables becomes [[section]]."""
    lines: list[str] = []
    for name, body in sections.items():
        tables = body if isinstance(body, Sequence) else [body]
        for table in tables:
            lines.append(f"[[{name}]]" if isinstance(body, Sequence) else f"[{name}]")
            lines.extend(f"{key} = {_value(value)}" for key, value in table.items())
            lines.append("")
    return "\n".join(lines)


def write_config(path: Path, sections: Mapping[str, Any]) -> Path:
    path.write_text(to_toml(sections), encoding="utf-8")
    return path


def base_sections(tmp: Path, db_url: str, ldap_url: str, volumes: Sequence[Mapping[str, Any]],
                  **extra: Mapping[str, Any]) -> dict[str, Any]:
    """A complete configuration under ``tmp`` (mpistat/ and reports/ directories)."""
    (tmp / "mpistat").mkdir(exist_ok=True)
    (tmp / "reports").mkdir(exist_ok=True)
    sections: dict[str, Any] = {
        "paths": {"mpistat_dir": str(tmp / "mpistat"), "report_dir": str(tmp / "reports"),
                  "max_days_ago": 3, "workers": 2,
                  # the hand-written snapshots of the tests hold a few malformed lines
                  # among few lines; tests of failed snapshots set their own fraction
                  "max_malformed_fraction": 0.25},
        "database": {"url": db_url},
        "ldap": {"url": ldap_url, "group_base": "ou=group,dc=example,dc=org",
                 "people_base": "ou=people,dc=example,dc=org", "timeout": 5},
        "quota": {"lfs": ""},
        "volume": list(volumes),
    }
    sections.update(extra)
    return sections
