"""Compose-file variable interpolation, as `docker compose` does it before validating the file."""

import re
from pathlib import Path

VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    """A `${NAME:?message}` variable was unset or empty (compose refuses to start)."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file; blank lines and comments ignored."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def _substitute(match: re.Match, env: dict[str, str]) -> str:
    if match["escaped"]:
        return "$"
    name = match["braced"] or match["named"]
    op, arg = match["op"] or "", match["arg"] or ""
    is_set = name in env
    usable = env.get(name, "") != "" if op.startswith(":") else is_set
    if op.endswith("-"):
        return env[name] if usable else arg
    if op.endswith("?"):
        if not usable:
            raise MissingVariable(name, arg or "required")
        return env[name]
    if op.endswith("+"):
        return arg if usable else ""
    return env.get(name, "")


def interpolate(value, env: dict[str, str]):
    """The loaded compose document with every `$VAR`/`${VAR...}` in its string values resolved."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if isinstance(value, str):
        return VARIABLE.sub(lambda match: _substitute(match, env), value)
    return value


def variables(text: str) -> dict[str, str]:
    """Every variable a compose file reads, with its operator ('' when plain)."""
    return {m["braced"] or m["named"]: m["op"] or "" for m in VARIABLE.finditer(text) if not m["escaped"]}
