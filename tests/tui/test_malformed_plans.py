"""`tokenmaxx run PLAN --headless` on malformed plans: one line naming file, line and fix, exit 2, no traceback, no session, no hang."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tokenmaxx.tui.cli import main

DEADLINE_S = 30
AGENT = '[[agents]]\nname = "a"\nrole = "critic"\ntask = "t"\n'


def agent(name: str = "a", extra: str = "", role: str = "critic") -> str:
    return f'[[agents]]\nname = "{name}"\nrole = "{role}"\ntask = "t"\n{extra}'


MALFORMED = [
    ("wrong-type", 'max_parallel = "5"\n' + AGENT, 'fleet.toml:1: max_parallel: expected an integer, got string "5"'),
    ("task-not-string", '[[agents]]\nname = "a"\nrole = "critic"\ntask = 5\n', "fleet.toml:4: agents[0].task: expected a string, got integer 5"),
    ("agents-a-string", 'agents = "a"\n', 'fleet.toml:1: agents: expected an array, got string "a"'),
    ("agents-a-table", '[agents]\nname = "a"\n', "fleet.toml:1: agents: expected an array, got a table"),
    ("unknown-key", 'nmae = "x"\n' + AGENT, 'fleet.toml:1: nmae: unknown key "nmae" (did you mean "name"?)'),
    ("duplicate-agent", agent() + agent(), 'fleet.toml:6: agents[1].name: duplicate agent name "a" (also agents[0])'),
    ("cycle", agent("a", 'after = ["b"]\n') + agent("b", 'after = ["a"]\n'), "fleet.toml:5: agents[0].after: dependency cycle: a -> b -> a"),
    ("after-itself", agent("a", 'after = ["a"]\n'), 'fleet.toml:5: agents[0].after: "a" cannot come after itself'),
    ("negative-budget", agent("a", "budget = { usd = -1 }\n"), "fleet.toml:5: agents[0].budget.usd: must be > 0, got -1"),
    ("budget-a-string", agent("a", 'budget = "10"\n'), 'fleet.toml:5: agents[0].budget: expected a table, got string "10"'),
    ("negative-max-tokens", agent("a", "max_tokens = -5\n"), "fleet.toml:5: agents[0].max_tokens: must be >= 1, got -5"),
    ("huge-max-tokens", agent("a", "max_tokens = 9223372036854775807\n"), "fleet.toml:5: agents[0].max_tokens: must be <= 10000000, got 9223372036854775807"),
    ("huge-loop", agent("a", "loop = { times = 9223372036854775807 }\n"), "fleet.toml:5: agents[0].loop.times: must be <= 10000, got 9223372036854775807"),
    ("huge-parallel", "max_parallel = 99999999999999999999999\n" + AGENT, "fleet.toml:1: max_parallel: must be <= 1000, got 99999999999999999999999"),
    ("huge-stall-after", "stall_after = 1e308\n" + AGENT, "fleet.toml:1: stall_after: must be <= 604800, got 1e+308"),
    ("nan", "stall_after = nan\n" + AGENT, "fleet.toml:1: stall_after: must be a finite number, got nan"),
    ("infinite-budget", "budget = { usd = inf }\n" + AGENT, "fleet.toml:1: budget.usd: must be a finite number, got inf"),
    ("speed-1e308", "[providers.sim]\nspeed = 1e308\n" + AGENT, "fleet.toml:2: providers.sim.speed: must be <= 1000, got 1e+308"),
    ("speed-tiny", "[providers.sim]\nspeed = 1e-300\n" + AGENT, "fleet.toml:2: providers.sim.speed: must be >= 0.05, got 1e-300"),
    ("sim-unknown-option", agent("a", "sim = { bogus = 1 }\n"), 'fleet.toml:5: agents[0]: sim: unknown option "bogus"; known: stall_at_turn, loop_on_first_run, fail'),
    ("sim-bad-type", agent("a", 'sim = { fail = "yes" }\n'), "fleet.toml:5: agents[0]: sim.fail: expected bool, got str"),
    ("sim-turn-0", agent("a", "sim = { stall_at_turn = 0 }\n"), "fleet.toml:5: agents[0]: sim.stall_at_turn: must be 1 or more, got 0"),
    ("unknown-provider", agent("a", 'provider = "gpt"\n'), 'fleet.toml:5: agents[0].provider: unknown provider "gpt"'),
    ("unknown-role", agent("a", role="critc"), 'fleet.toml:3: agents[0].role: unknown role "critc" (did you mean "critic"?)'),
    ("unknown-tool", agent("a", 'tools = ["read_flie"]\n'), 'fleet.toml:5: agents[0].tools: unknown tool "read_flie" (did you mean "read_file"?)'),
    ("unknown-policy", agent("a", 'policy = { run_command = "always" }\n'), 'fleet.toml:5: agents[0].policy.run_command: expected one of "auto", "ask" or "deny", got string "always"'),
    ("bad-name", agent("A B"), 'fleet.toml:2: agents[0].name: invalid name "A B": use lowercase letters, digits, "-" and "_", starting with a letter or digit'),
    ("missing-task", '[[agents]]\nname = "a"\nrole = "critic"\n', "fleet.toml:1: agents[0].task: missing required key"),
    ("real-provider-without-model", agent("a", 'provider = "anthropic"\n'), 'fleet.toml:1: agents[0].model: required for provider "anthropic" (kind "anthropic")'),
    ("invalid-toml", "name = \n" + AGENT, "fleet.toml:1: invalid TOML: invalid value (column 8)"),
    ("key-twice", 'name = "x"\nname = "y"\n' + AGENT, "fleet.toml:2: invalid TOML: cannot overwrite a value (column 11)"),
    ("byte-order-mark", "\ufeff" + AGENT + "bogus = 1\n", 'fleet.toml:5: agents[0].bogus: unknown key "bogus"'),
    ("nested-5000-deep", "x = " + "[" * 5000 + "]" * 5000 + "\n", "fleet.toml:1: invalid TOML: arrays or tables nested more than 100 deep; a plan needs a few levels"),
    ("inline-tables-400-deep", AGENT + "sim = " + "{a = " * 400 + "1" + "}" * 400 + "\n", "fleet.toml:5: invalid TOML: arrays or tables nested more than 100 deep; a plan needs a few levels"),
    ("huge-key", '"' + "k" * 100_000 + '" = 1\n' + AGENT, 'fleet.toml:1: "' + "k" * 39 + '…": unknown key "' + "k" * 39 + '…"'),
    ("empty", "", "fleet.toml: agents: the plan has no agents: add at least one [[agents]] table with name, role and task"),
    ("no-agents", 'name = "x"\n', "fleet.toml: agents: the plan has no agents: add at least one [[agents]] table with name, role and task"),
    ("workdir-missing", 'workdir = "nope"\n' + AGENT, "fleet.toml:1: workdir: not a folder: {tmp}/nope"),
    ("out-under-a-file", 'out = "notes.txt/out"\n' + AGENT, "fleet.toml:1: out: {tmp}/notes.txt is a file, so the out folder {tmp}/notes.txt/out cannot be made; choose another folder"),
    ("out-in-proc", 'out = "/proc/tokenmaxx-out"\n' + AGENT, "fleet.toml: out: cannot create the out folder /proc/tokenmaxx-out: No such file or directory; choose another folder"),
    ("prompt-file-missing", '[roles.r]\nprompt_file = "nope.md"\n' + agent(role="r"), 'fleet.toml:2: roles.r.prompt_file: file not found: "nope.md"'),
    ("prompt-file-a-folder", '[roles.r]\nprompt_file = "."\n' + agent(role="r"), 'fleet.toml:2: roles.r.prompt_file: cannot read ".": is a folder, not a file'),
    ("prompt-file-a-fifo", '[roles.r]\nprompt_file = "pipe"\n' + agent(role="r"), 'fleet.toml:2: roles.r.prompt_file: cannot read "pipe": not a regular file (a FIFO, device or socket); give a text file'),
    ("prompt-file-a-device", '[roles.r]\nprompt_file = "/dev/null"\n' + agent(role="r"), 'fleet.toml:2: roles.r.prompt_file: cannot read "/dev/null": not a regular file (a FIFO, device or socket); give a text file'),
    ("prompt-file-binary", '[roles.r]\nprompt_file = "logo.png"\n' + agent(role="r"), 'fleet.toml:2: roles.r.prompt_file: cannot read "logo.png": not UTF-8 text'),
]


def _write_bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _giant(path: Path) -> None:
    with path.open("wb") as handle:
        handle.write(AGENT.encode())
        handle.truncate(200 * 1024 * 1024)


UNREADABLE = [
    ("missing", lambda path: None, "fleet.toml: file not found"),
    ("a-folder", Path.mkdir, "fleet.toml: is a folder, not a plan file"),
    ("a-fifo", os.mkfifo, "fleet.toml: cannot read: not a regular file (a FIFO, device or socket); give a text file"),
    ("not-utf8", _write_bytes(b'name = "\xff\xfe"\n' + AGENT.encode()), "fleet.toml:1: not UTF-8 text"),
    ("binary", _write_bytes(bytes(range(256)) * 8), "fleet.toml:2: not UTF-8 text"),
    ("200-mb", _giant, "fleet.toml: cannot read: larger than 1024 KiB; give a short text file"),
]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the files the plans point at, as the working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOKENMAXX_DB", str(tmp_path / "s.db"))
    (tmp_path / "notes.txt").write_text("notes\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    os.mkfifo(tmp_path / "pipe")
    return tmp_path


def run_headless(folder: Path) -> Result:
    """Invoke `tokenmaxx run fleet.toml --headless` in a thread, failing the test rather than hanging with it."""
    results: list[Result] = []
    args = ["run", "fleet.toml", "--headless", "--db", str(folder / "s.db")]
    worker = threading.Thread(target=lambda: results.append(CliRunner().invoke(main, args)), name="cli", daemon=True)
    worker.start()
    worker.join(DEADLINE_S)
    assert results, f"tokenmaxx run hung for {DEADLINE_S} s"
    return results[0]


def assert_plan_error(result: Result, folder: Path, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == "tokenmaxx: " + expected.format(tmp=folder)
    assert "Traceback" not in result.output and result.stdout == ""
    assert not (folder / "s.db").exists(), "a session was recorded for a plan that cannot run"


@pytest.mark.parametrize(("text", "expected"), [pytest.param(text, expected, id=name) for name, text, expected in MALFORMED])
def test_a_malformed_plan_is_one_clear_line_and_exit_2(folder: Path, text: str, expected: str) -> None:
    (folder / "fleet.toml").write_text(text, encoding="utf-8")
    assert_plan_error(run_headless(folder), folder, expected)


@pytest.mark.parametrize(("make", "expected"), [pytest.param(make, expected, id=name) for name, make, expected in UNREADABLE])
def test_a_plan_file_that_cannot_be_read_is_one_clear_line_and_exit_2(folder: Path, make: Callable[[Path], None], expected: str) -> None:
    make(folder / "fleet.toml")
    assert_plan_error(run_headless(folder), folder, expected)
