"""The Docker image's wheel, built without a Docker engine: the files the Dockerfile's build stage COPYs (read
from the Dockerfile, less what .dockerignore leaves out of the context) are copied into a clean directory,
``pip wheel`` builds the wheel there as the image does, and a fresh virtualenv installs it and runs
``liveflow --help`` and imports the compiled ``liveflow._idset``, outside the source tree.

Needs the package index or pip's cache (build requirements and dependencies); takes about a minute.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stage:
    """One ``FROM`` of a Dockerfile: its ``COPY`` instructions from the build context, in order, and its
    ``RUN`` commands."""

    copies: list[tuple[list[str], str]] = field(default_factory=list)  # (source patterns, destination)
    runs: list[str] = field(default_factory=list)


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments left out."""
    joined: list[str] = []
    pending = ""
    for line in dockerfile.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined]


def stages(dockerfile: str) -> list[Stage]:
    found: list[Stage] = []
    for instruction, arguments in instructions(dockerfile):
        if instruction == "FROM":
            found.append(Stage())
        elif instruction == "COPY":
            words = shlex.split(arguments)
            if any(word.startswith("--from") for word in words):
                continue  # from another stage, not from the context
            unknown = [word for word in words if word.startswith("--")]
            assert not unknown, f"COPY option {unknown} is not understood by this test: teach it"
            found[-1].copies.append((words[:-1], words[-1]))
        elif instruction == "RUN":
            found[-1].runs.append(arguments)
    return found


def build_stage(dockerfile: str) -> Stage:
    """The stage that runs pip on the copied sources (``pip wheel ... .`` or ``pip install .``)."""
    builders = [
        stage
        for stage in stages(dockerfile)
        if any("pip" in run and " ." in f"{run} " for run in stage.runs) and stage.copies
    ]
    assert len(builders) == 1, "expected one stage that builds the package from the copied files"
    return builders[0]


def _regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match, plus ``**`` for any number of directories)."""
    out, index = "", 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out, index = out + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            out, index = out + ".*", index + 2
        elif pattern[index] in "*?":
            out, index = out + ("[^/]*" if pattern[index] == "*" else "[^/]"), index + 1
        elif pattern[index] == "[":
            end = pattern.index("]", index)
            out, index = out + pattern[index : end + 1], end + 1
        else:
            out, index = out + re.escape(pattern[index]), index + 1
    return re.compile(out)


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves ``relative`` (a path in the context) out: a pattern matches the path or
    one of the directories above it."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    return any(_regex(pattern.strip("/")).fullmatch(prefix) for pattern in patterns for prefix in prefixes)


def copy_context(stage: Stage, destination: Path) -> list[str]:
    """Do the stage's COPYs from the repository into ``destination`` (its WORKDIR); returns what was
    copied, as paths relative to ``destination``."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not [pattern for pattern in patterns if pattern.startswith("!")], "exceptions (!) not understood"
    copied: list[str] = []
    for sources, target in stage.copies:
        matches = [match.relative_to(ROOT) for source in sources for match in sorted(ROOT.glob(source))]
        for match in matches:
            if ignored(match.as_posix(), patterns):
                continue
            into = destination / target / match.name if target.endswith("/") else destination / target
            if (ROOT / match).is_dir():
                for path in sorted((ROOT / match).rglob("*")):
                    relative = path.relative_to(ROOT).as_posix()
                    if path.is_file() and not ignored(relative, patterns):
                        placed = into / path.relative_to(ROOT / match)
                        placed.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, placed)
                        copied.append(placed.relative_to(destination).as_posix())
            else:
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / match, into)
                copied.append(into.relative_to(destination).as_posix())
    return copied


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LIVEFLOW_", "PYTHON"))}
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_wheel_of_the_image_installs_and_runs(tmp_path: Path) -> None:
    stage = build_stage((ROOT / "Dockerfile").read_text())
    source = tmp_path / "src"
    source.mkdir()
    copied = copy_context(stage, source)
    assert "setup.py" in copied and "liveflow/_idset.c" in copied
    assert not [path for path in copied if path.endswith(".so") or "__pycache__" in path]

    wheels = tmp_path / "wheels"
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", wheels, ".", cwd=source)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = wheels.glob("liveflow-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert [name for name in names if name.startswith("liveflow/_idset.") and name.endswith(".so")], names
    assert "liveflow/tools/devstack/pom.xml" in names and any(n.startswith("liveflow/data/") for n in names)

    venv = tmp_path / "venv"
    created = run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    installed = run(venv / "bin" / "pip", "install", "--disable-pip-version-check", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]

    help_text = run(venv / "bin" / "liveflow", "--help", cwd=tmp_path)
    assert help_text.returncode == 0, help_text.stderr
    assert help_text.stdout.startswith("Usage: liveflow")
    imports = "import liveflow._idset, liveflow.core.ingest; print(liveflow._idset.__file__)"
    module = run(venv / "bin" / "python", "-c", imports, cwd=tmp_path)
    assert module.returncode == 0, module.stderr
    assert Path(module.stdout.strip()).is_relative_to(venv), module.stdout
