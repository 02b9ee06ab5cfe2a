"""The demo: a plan of five sim agents, its inputs (talk notes and sources), and a sample repository.

    prepare_demo(cwd, out_root) -> Path     writes the demo plan file and returns its path
    demo_plan(cwd, out_root) -> Plan        the same plan, loaded
    copy_inputs(session_out)                puts talk-notes.md and sources.md in <session_out>/inputs/
"""

from __future__ import annotations

import json
import subprocess
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from tokenmaxx.agents.demo.sample_repo import create_sample_repo

if TYPE_CHECKING:
    from tokenmaxx.agents.plan import Plan

DEMO_DIR = ".demo"
INPUTS = ("talk-notes.md", "sources.md")


class DemoError(Exception):
    """The demo could not be set up (no git, or the sample repository could not be made)."""


def prepare_demo(cwd: Path, out_root: Path, *, speed: float = 1.0, seed: int = 0) -> Path:
    """Write the demo plan into `<out_root>/.demo/demo.toml` and return its path."""
    folder = Path(out_root) / DEMO_DIR
    workdir = demo_workdir(Path(cwd), folder / "sample-repo")
    text = Template(_resource("demo.toml")).substitute(
        workdir=json.dumps(str(workdir)), out=json.dumps(str(Path(out_root).resolve())),
        speed=repr(float(speed)), seed=str(int(seed)),
    )
    folder.mkdir(parents=True, exist_ok=True)
    plan = folder / "demo.toml"
    plan.write_text(text, encoding="utf-8")
    return plan


def demo_plan(cwd: Path, out_root: Path, *, speed: float = 1.0, seed: int = 0) -> Plan:
    """The demo plan, written by `prepare_demo` and loaded."""
    from tokenmaxx.agents.plan import load_plan

    return load_plan(prepare_demo(cwd, out_root, speed=speed, seed=seed))


def copy_inputs(session_out: Path) -> Path:
    """Write the talk notes and sources the fact-checker reads into `<session_out>/inputs/`."""
    inputs = Path(session_out) / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    for name in INPUTS:
        (inputs / name).write_text(_resource(name), encoding="utf-8")
    return inputs


def demo_workdir(cwd: Path, sample: Path) -> Path:
    """The git repository around `cwd` when it has commits, else the sample repository at `sample`."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True, check=False
        )
        if found.returncode == 0:
            top = Path(found.stdout.strip())
            head = subprocess.run(["git", "-C", str(top), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True)
            if head.returncode == 0:
                return top.resolve()
        return create_sample_repo(sample).resolve()
    except FileNotFoundError:
        raise DemoError("the demo needs git on PATH to read a repository's history") from None
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or b"").decode(errors="replace").strip()
        raise DemoError(f"could not create the sample repository in {sample}: {detail or error}") from None


def _resource(name: str) -> str:
    return files("tokenmaxx.agents.demo").joinpath(name).read_text(encoding="utf-8")
