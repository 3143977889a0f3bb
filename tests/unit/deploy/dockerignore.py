"""Which files `docker build` sends as its context, by the .dockerignore rules Docker itself applies.

Same semantics as moby/patternmatcher: patterns are cleaned paths with `*`, `?`, `[...]` and
`**`; `!` re-includes; the last pattern that matches a path or one of its parent folders wins.
"""

import os
import posixpath
import re
from pathlib import Path


def read_patterns(dockerignore: Path) -> list[str]:
    """The non-comment, non-blank lines, cleaned the way the Docker CLI cleans them."""
    lines = (line.strip() for line in dockerignore.read_text().splitlines())
    return [_clean(line) for line in lines if line and not line.startswith("#")]


def _clean(pattern: str) -> str:
    negated = pattern.startswith("!")
    body = posixpath.normpath(pattern[1:].strip() if negated else pattern).lstrip("/")
    return ("!" if negated else "") + body


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = "^", 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 3 if pattern.startswith("/", i + 2) else 2
            out += ".*" if i >= len(pattern) else "(.*/)?"
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", i)
            out += "[" + pattern[i + 1 : end].replace("\\", "\\\\") + "]"
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out + "$")


def _compiled(patterns: list[str]) -> list[tuple[bool, re.Pattern[str]]]:
    return [(p.startswith("!"), _regex(p.removeprefix("!"))) for p in patterns]


def is_excluded(path: str, patterns: list[str]) -> bool:
    """Whether a context-relative POSIX path is left out of the build context."""
    return _excluded(path, _compiled([_clean(p) for p in patterns]))


def _excluded(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parents = path.split("/")[:-1]
    candidates = [path] + ["/".join(parents[: i + 1]) for i in range(len(parents))]
    excluded = False
    for negated, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def _may_reinclude(folder: str, patterns: list[str]) -> bool:
    """Whether some `!` pattern could match below an excluded folder (Docker walks into it then)."""
    for pattern in patterns:
        if pattern.startswith("!"):
            literal = re.split(r"[*?\[\\]", pattern[1:], maxsplit=1)[0]
            if literal.startswith(folder + "/") or (folder + "/").startswith(literal):
                return True
    return False


def build_context(root: Path) -> list[str]:
    """Every file under root that `docker build root` would send, as sorted relative paths."""
    patterns = read_patterns(root / ".dockerignore")
    rules = _compiled(patterns)
    files = []
    for folder, dirs, names in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        dirs[:] = [d for d in dirs if not _excluded(prefix + d, rules) or _may_reinclude(prefix + d, patterns)]
        files += [prefix + name for name in names if not _excluded(prefix + name, rules)]
    return sorted(files)
