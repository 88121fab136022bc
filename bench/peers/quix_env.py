"""Throwaway virtualenv for the Quix Streams peer, and the runner of ``bench/peers/quix_app.py`` in it.

What: Quix Streams is never a dependency of LiveFlow. :func:`ensure_venv` keeps a virtualenv outside the
repository (``$XDG_CACHE_HOME/liveflow/bench/quix-venv``, default ``~/.cache/...``; ``--venv`` or
``LIVEFLOW_BENCH_QUIX_VENV`` override it) with exactly ``quixstreams==QUIX_VERSION``: a venv whose
interpreter reports that version is reused as it is; otherwise the folder is rebuilt with
``python3 -m venv`` + ``pip install``. :func:`run_quix` starts the app with that venv's interpreter
and returns its one JSON line, parsed.

How (the app's arguments pass through)::

    .venv/bin/python bench/peers/quix_env.py --brokers 127.0.0.1:9092 \\
        --topics p.viewer-events,p.comment-events,p.order-events --group bench-quix --expect 300000

Output: the app's JSON line (see ``quix_app.py``) on stdout, unchanged; progress of the venv set-up and
the app's own stderr on stderr. Exit code: the app's (2 on its timeout); 3 if the venv cannot be built.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

QUIX_VERSION = "3.28.1"
APP = Path(__file__).resolve().parent / "quix_app.py"


def default_venv() -> Path:
    override = os.environ.get("LIVEFLOW_BENCH_QUIX_VENV")
    if override:
        return Path(override).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "liveflow" / "bench" / "quix-venv"


def installed_version(venv: Path) -> str | None:
    """The quixstreams version importable by the venv's interpreter, or None."""
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    probe = "import importlib.metadata as m; print(m.version('quixstreams'))"
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_venv(venv: Path | None = None, log: bool = True) -> Path:
    """The venv's interpreter, with ``quixstreams==QUIX_VERSION`` installed (built or rebuilt if needed)."""
    venv = (venv or default_venv()).resolve()
    python = venv / "bin" / "python"
    if installed_version(venv) == QUIX_VERSION:
        return python
    repo = Path(__file__).resolve().parents[2]
    if venv == repo or repo in venv.parents:
        raise SystemExit(f"quix_env: refusing to build the Quix venv inside the repository ({venv})")
    started = time.monotonic()
    _say(log, f"building {venv} with quixstreams=={QUIX_VERSION} ...")
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    base = shutil.which("python3") or sys.executable
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"quixstreams=={QUIX_VERSION}"], check=True)
    if installed_version(venv) != QUIX_VERSION:
        raise RuntimeError(f"quixstreams {QUIX_VERSION} not importable from {python} after install")
    _say(log, f"built {venv} in {time.monotonic() - started:.0f} s")
    return python


def run_quix(app_args: list[str], venv: Path | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Run the app in the venv with ``app_args``; its JSON line as a dict (``RuntimeError`` on failure)."""
    python = ensure_venv(venv)
    done = subprocess.run(
        [str(python), str(APP), *app_args],
        stdout=subprocess.PIPE,
        stderr=None,  # the app's warnings and errors go straight to ours
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"quix_app exited with {done.returncode}: {' | '.join(lines[-3:])}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _say(enabled: bool, message: str) -> None:
    if enabled:
        sys.stderr.write(f"quix_env: {message}\n")
        sys.stderr.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--venv", type=Path, default=None, help="virtualenv folder (outside the repo)")
    parser.add_argument("--setup-only", action="store_true", help="build or check the venv, then exit")
    args, app_args = parser.parse_known_args()
    try:
        python = ensure_venv(args.venv)
    except (OSError, subprocess.CalledProcessError, RuntimeError) as error:
        sys.stderr.write(f"quix_env: cannot build the Quix venv: {error}\n")
        return 3
    if args.setup_only:
        sys.stdout.write(f"{python}\n")
        return 0
    done = subprocess.run([str(python), str(APP), *app_args], stdout=subprocess.PIPE, check=False)
    sys.stdout.write(done.stdout.decode(errors="replace"))
    sys.stdout.flush()
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
