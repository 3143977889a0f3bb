"""The Dockerfile and what `docker build .` would send: only the packages and the lock, no secrets."""

import re
from pathlib import Path

import pytest

from tests.unit.deploy.dockerignore import build_context, is_excluded

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("shared/", "services/", "visitdesk/")
SECRET_LOOKING = re.compile(r"(^|/)(\.env(\..*)?|id_rsa.*|id_ed25519.*|.*\.(pem|key|p12|pfx|crt))$")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in dockerfile.read_text().splitlines() if not line.lstrip().startswith("#")),
    )
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in joined.splitlines() if line.strip()
    ]


def stages(dockerfile: Path) -> dict[str, list[tuple[str, str]]]:
    """Instructions per build stage name, the global ARG defaults substituted into FROM."""
    args, result, current = {}, {}, None
    for op, rest in instructions(dockerfile):
        if op == "ARG" and current is None:
            name, _, default = rest.partition("=")
            args[name] = default
        elif op == "FROM":
            image, _, name = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], rest).partition(" AS ")
            current = name.strip()
            result[current] = [("FROM", image.strip())]
        else:
            result[current].append((op, rest))
    return result


def test_build_context_holds_only_the_packages_and_the_lock():
    for path in build_context(ROOT):
        assert path in {"pyproject.toml", "uv.lock"} or path.startswith(PACKAGES), path


def test_build_context_of_this_tree_has_no_tests_caches_or_secret_looking_files():
    for path in build_context(ROOT):
        parts = path.split("/")
        assert not {"tests", "var", ".venv", "bench", ".git", "__pycache__", ".pytest_cache"} & set(parts), path
        assert not path.endswith((".pyc", ".pyo")), path
        assert not SECRET_LOOKING.search(path), path


def test_build_context_leaves_out_planted_tests_caches_and_secrets(tmp_path):
    (tmp_path / ".dockerignore").write_text((ROOT / ".dockerignore").read_text())
    kept = [
        "pyproject.toml",
        "uv.lock",
        "shared/web.py",
        "services/visits/main.py",
        "services/visits/alembic/script.py.mako",
        "services/notifications/templates/fi/visit.html",
        "visitdesk/cli.py",
    ]
    left_out = [
        "tests/unit/test_x.py",
        "services/visits/tests/test_y.py",
        "var/pg/data/PG_VERSION",
        ".venv/bin/python",
        "bench/load.py",
        ".git/config",
        "shared/__pycache__/web.cpython-311.pyc",
        "services/visits/web.pyc",
        ".pytest_cache/v/cache",
        "services/.mypy_cache/x.json",
        ".env",
        ".env.production",
        "services/visits/.env",
        "shared/tls.pem",
        "visitdesk/signing.key",
        "id_rsa",
        "services/visits/id_ed25519.pub",
        "notes.md",
        "Dockerfile",
        "docker-compose.yml",
        "deploy/k8s/base/config.env",
        "visits.db",
        "services/visits/local.sqlite",
    ]
    for path in kept + left_out:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    assert build_context(tmp_path) == sorted(kept)


@pytest.mark.parametrize(
    "pattern,path,excluded",
    [
        ("*.pyc", "a.pyc", True),
        ("*.pyc", "shared/a.pyc", False),  # Docker patterns are anchored at the context root
        ("**/*.pyc", "shared/a.pyc", True),
        ("**/__pycache__", "__pycache__/a.pyc", True),
        ("tests", "tests/unit/test_a.py", True),  # a folder's match covers everything inside it
        ("shared/*.py", "shared/sub/a.py", False),
        ("var/", "var/pg/x", True),
    ],
)
def test_ignore_patterns_follow_docker_semantics(pattern, path, excluded):
    assert is_excluded(path, [pattern]) is excluded


def test_an_exception_re_includes_and_a_later_pattern_excludes_again():
    patterns = ["*", "!shared", "**/*.pem"]
    assert not is_excluded("shared/web.py", patterns)
    assert is_excluded("shared/tls.pem", patterns)
    assert is_excluded("README.md", patterns)


def test_everything_the_image_installs_is_in_the_context():
    context = set(build_context(ROOT))
    assert {"pyproject.toml", "uv.lock", "visitdesk/cli.py", "shared/migrations.py"} <= context
    for main in ROOT.glob("services/*/main.py"):
        service = main.parent.relative_to(ROOT).as_posix()
        assert f"{service}/main.py" in context
        versions = [p.relative_to(ROOT).as_posix() for p in main.parent.glob("alembic/versions/*.py")]
        assert versions and set(versions) <= context, service


def test_builder_installs_the_locked_runtime_dependencies_with_pinned_uv():
    builder = stages(ROOT / "Dockerfile")["builder"]
    runs = [rest for op, rest in builder if op == "RUN"]
    assert any("uv==0.13.8" in run for run in runs)
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs and all("--frozen" in run and "--no-dev" in run for run in syncs), "only the locked runtime set"
    copied = [rest.split()[:-1] for op, rest in builder if op == "COPY"]
    sources = {source for sources in copied for source in sources}
    assert sources == {"pyproject.toml", "uv.lock", "shared", "services", "visitdesk"}


def test_runtime_stage_is_slim_non_root_and_has_no_build_tools():
    runtime = stages(ROOT / "Dockerfile")["runtime"]
    assert runtime[0] == ("FROM", "python:3.11-slim")
    user = [rest for op, rest in runtime if op == "USER"][-1]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), "numeric, non-zero uid and gid"
    for op, rest in runtime:
        if op == "COPY":
            assert rest.startswith("--from=builder "), rest
        if op == "RUN":
            assert not re.search(r"apt-get|apk|pip install|gcc|build-essential|\buv\b", rest), rest


def test_every_file_the_dockerfile_copies_from_the_context_exists_there():
    context = build_context(ROOT)
    for stage in stages(ROOT / "Dockerfile").values():
        for op, rest in stage:
            if op == "COPY" and not rest.startswith("--from="):
                for source in rest.split()[:-1]:
                    assert any(p == source or p.startswith(source + "/") for p in context), source
