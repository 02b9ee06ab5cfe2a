"""The sandboxed tools: confinement of paths, the file tools, and run_command's process handling."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from tokenmaxx.agents.tools import PATH_RULES, TOOLS, ToolOutcome, Workspace, run_tool, tool_specs
from tokenmaxx.agents.tools import files as files_module
from tokenmaxx.agents.tools.workspace import real_root

DEADLINE_S = 15


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text("print('hi')\n")
    (project / "notes.md").write_text("one\ntwo\nthree\n")
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret\n")
    return Workspace(project=project, out_root=tmp_path / "out", agent="charts", command_timeout_s=20)


def _outside(ws: Workspace) -> Path:
    return ws.project.parent / "outside"


def _process_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in (b"Z", b"X")


async def _read_pid(path: Path) -> int:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never got a pid")


# Workspace and specs


def test_own_out_is_the_agents_folder_in_the_out_root(ws: Workspace) -> None:
    assert ws.own_out == ws.out_root / "charts"


@pytest.mark.parametrize("agent", ["", ".", "..", "a/b"])
def test_workspace_refuses_an_agent_name_that_is_not_a_folder_name(tmp_path: Path, agent: str) -> None:
    with pytest.raises(ValueError, match="Workspace.agent"):
        Workspace(project=tmp_path, out_root=tmp_path / "out", agent=agent)


def test_tool_specs_follow_the_requested_order_with_json_schemas() -> None:
    specs = tool_specs(["write_file", "read_file"])
    assert [spec.name for spec in specs] == ["write_file", "read_file"]
    assert specs[0].parameters["required"] == ["path", "content"]
    assert specs[1].parameters["properties"]["offset"] == {
        "type": "integer",
        "description": "The first line to show, counting from 1 (default 1).",
        "minimum": 1,
    }
    assert all(spec.parameters["additionalProperties"] is False for spec in specs)


def test_tool_specs_reject_an_unknown_tool() -> None:
    with pytest.raises(ValueError, match="unknown tool 'shell'"):
        tool_specs(["read_file", "shell"])


def test_every_tool_is_registered_under_its_own_name() -> None:
    assert set(TOOLS) == {"read_file", "list_files", "write_file", "run_command"}
    assert all(tool.spec.name == name and tool.spec.description for name, tool in TOOLS.items())


def test_path_rules_explain_the_out_prefix() -> None:
    assert '"out:"' in PATH_RULES and "write_file" in PATH_RULES


# Refusals


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../outside/secret.txt", "refused: path '../outside/secret.txt' is outside the project"),
        (
            "src/../../outside/secret.txt",
            "refused: path 'src/../../outside/secret.txt' is outside the project",
        ),
        ("/etc/passwd", "refused: path '/etc/passwd' is absolute; give a path relative to the project"),
        ("~/.ssh/id_rsa", "refused: path '~/.ssh/id_rsa' is absolute; give a path relative to the project"),
        (
            "out:../outside/secret.txt",
            "refused: path 'out:../outside/secret.txt' is outside the session's out folder",
        ),
        ("out:/etc/passwd", "refused: path 'out:/etc/passwd' is absolute"),
    ],
)
@pytest.mark.parametrize("tool", ["read_file", "list_files"])
async def test_reading_outside_the_roots_is_refused(
    ws: Workspace, tool: str, path: str, message: str
) -> None:
    outcome = await run_tool(tool, {"path": path}, ws)
    assert not outcome.ok
    assert outcome.output.startswith(message)


@pytest.mark.parametrize("tool", ["read_file", "list_files"])
async def test_a_symlink_pointing_outside_the_project_is_refused(ws: Workspace, tool: str) -> None:
    (ws.project / "escape").symlink_to(_outside(ws))
    (ws.project / "secret-link.txt").symlink_to(_outside(ws) / "secret.txt")
    path = "escape" if tool == "list_files" else "escape/secret.txt"
    outcome = await run_tool(tool, {"path": path}, ws)
    assert not outcome.ok
    assert outcome.output == f"refused: path {path!r} goes through a symlink that points outside the project"
    linked = await run_tool("read_file", {"path": "secret-link.txt"}, ws)
    assert not linked.ok and "top secret" not in linked.output


async def test_a_symlink_in_the_out_folder_pointing_outside_is_refused(ws: Workspace) -> None:
    ws.own_out.mkdir(parents=True)
    (ws.own_out / "escape").symlink_to(_outside(ws))
    outcome = await run_tool("read_file", {"path": "out:charts/escape/secret.txt"}, ws)
    assert outcome.output == (
        "refused: path 'out:charts/escape/secret.txt' goes through a symlink that points outside "
        "the session's out folder"
    )


async def test_a_symlink_made_after_a_first_call_is_still_refused(ws: Workspace) -> None:
    """Each root is resolved once, but what lies below it is resolved on every call."""
    assert (await run_tool("read_file", {"path": "notes.md"}, ws)).ok
    assert (await run_tool("write_file", {"path": "report.md", "content": "first"}, ws)).ok
    (ws.project / "later").symlink_to(_outside(ws))
    (ws.own_out / "later").symlink_to(_outside(ws))
    read = await run_tool("read_file", {"path": "later/secret.txt"}, ws)
    assert read.output == "refused: path 'later/secret.txt' goes through a symlink that points outside the project"
    listed = await run_tool("list_files", {"path": "out:charts/later"}, ws)
    assert listed.output.startswith("refused: path 'out:charts/later' goes through a symlink that points outside")
    written = await run_tool("write_file", {"path": "later/planted.txt", "content": "x"}, ws)
    assert written.output.startswith("refused: path 'later/planted.txt' goes through a symlink that points outside")
    assert not (_outside(ws) / "planted.txt").exists()


def test_a_relative_root_is_resolved_from_the_working_directory_of_each_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("one", "two"):
        (tmp_path / name / "project").mkdir(parents=True)
        monkeypatch.chdir(tmp_path / name)
        assert real_root(Path("project")) == (tmp_path / name / "project").resolve()


async def test_a_symlink_that_stays_inside_the_project_is_followed(ws: Workspace) -> None:
    (ws.project / "code").symlink_to(ws.project / "src")
    outcome = await run_tool("read_file", {"path": "code/app.py"}, ws)
    assert outcome.ok and outcome.output == "print('hi')\n"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../escape.md", "refused: path '../escape.md' is outside your out folder (out:charts/)"),
        ("deep/../../escape.md", "refused: path 'deep/../../escape.md' is outside your out folder"),
        ("/tmp/escape.md", "refused: path '/tmp/escape.md' is absolute; give a path relative to your"),
        ("out:logs/escape.md", "refused: path 'out:logs/escape.md' is not in your out folder (out:charts/)"),
        ("out:escape.md", "refused: path 'out:escape.md' is not in your out folder (out:charts/)"),
        ("out:../escape.md", "refused: path 'out:../escape.md' is outside the session's out folder"),
        ("out:charts/../logs/x.md", "refused: path 'out:charts/../logs/x.md' is not in your out folder"),
    ],
)
async def test_writing_outside_the_own_out_folder_is_refused(ws: Workspace, path: str, message: str) -> None:
    outcome = await run_tool("write_file", {"path": path, "content": "x"}, ws)
    assert not outcome.ok
    assert outcome.output.startswith(message)
    assert outcome.written == []
    planted = [p for p in ws.project.parent.rglob("*") if p.name in ("escape.md", "x.md")]
    assert planted == []


@pytest.mark.parametrize("target", ["outside", "other-agent"])
async def test_writing_through_a_symlink_out_of_the_own_folder_is_refused(ws: Workspace, target: str) -> None:
    destination = _outside(ws) if target == "outside" else ws.out_root / "logs"
    destination.mkdir(parents=True, exist_ok=True)
    ws.own_out.mkdir(parents=True)
    (ws.own_out / "link").symlink_to(destination)
    outcome = await run_tool("write_file", {"path": "link/planted.txt", "content": "x"}, ws)
    assert outcome.output == (
        "refused: path 'link/planted.txt' goes through a symlink that points outside "
        "your out folder (out:charts/)"
    )
    assert not (destination / "planted.txt").exists()


async def test_writing_over_a_file_symlink_that_points_outside_is_refused(ws: Workspace) -> None:
    ws.own_out.mkdir(parents=True)
    (ws.own_out / "report.md").symlink_to(_outside(ws) / "secret.txt")
    outcome = await run_tool("write_file", {"path": "report.md", "content": "overwritten"}, ws)
    assert not outcome.ok
    assert (_outside(ws) / "secret.txt").read_text() == "top secret\n"


# read_file


async def test_read_file_reads_another_agents_output_through_out(ws: Workspace) -> None:
    (ws.out_root / "logs").mkdir(parents=True)
    (ws.out_root / "logs" / "failures.csv").write_text("day,cause\n2026-01-02,timeout\n")
    outcome = await run_tool("read_file", {"path": "out:logs/failures.csv"}, ws)
    assert outcome.ok
    assert outcome.output == "day,cause\n2026-01-02,timeout\n"


async def test_read_file_caps_long_text_and_says_how_much_is_left(ws: Workspace) -> None:
    (ws.project / "long.txt").write_text("abcdefghij\n" * 10)
    small = Workspace(ws.project, ws.out_root, ws.agent, output_cap=25)
    outcome = await run_tool("read_file", {"path": "long.txt"}, small)
    assert outcome.ok
    assert outcome.output == (
        "abcdefghij\nabcdefghij\nabc\n[truncated: 85 more characters; continue with offset=3]"
    )


async def test_read_file_shows_a_range_of_lines(ws: Workspace) -> None:
    outcome = await run_tool("read_file", {"path": "notes.md", "offset": 2, "limit": 1}, ws)
    assert outcome.output == "two\n\n[1 more lines; continue with offset=3]"
    rest = await run_tool("read_file", {"path": "notes.md", "offset": 3}, ws)
    assert rest.output == "three\n"


async def test_read_file_refuses_an_offset_past_the_end(ws: Workspace) -> None:
    outcome = await run_tool("read_file", {"path": "notes.md", "offset": 9}, ws)
    assert not outcome.ok
    assert outcome.output == "'notes.md' has 3 lines; offset 9 is past the end"


async def test_read_file_refuses_binary_files_politely(ws: Workspace) -> None:
    (ws.project / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    outcome = await run_tool("read_file", {"path": "logo.png"}, ws)
    assert not outcome.ok
    assert outcome.output == "'logo.png' looks like a binary file (272 bytes); read_file shows text only"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("missing.txt", "no such file or folder: 'missing.txt'"),
        ("notes.md/inner", "no such file or folder: 'notes.md/inner' (a part of it is a file)"),
        ("src", "'src' is a directory; use list_files to see what it holds"),
    ],
)
async def test_read_file_names_what_is_wrong_with_the_path(ws: Workspace, path: str, message: str) -> None:
    outcome = await run_tool("read_file", {"path": path}, ws)
    assert not outcome.ok and outcome.output == message


async def test_read_file_refuses_a_fifo_instead_of_blocking(ws: Workspace) -> None:
    os.mkfifo(ws.project / "pipe")
    outcome = await asyncio.wait_for(run_tool("read_file", {"path": "pipe"}, ws), DEADLINE_S)
    assert outcome.output == "'pipe' is not a regular file; read_file reads files only"


async def test_read_file_says_when_a_file_is_empty(ws: Workspace) -> None:
    (ws.project / "empty.txt").write_text("")
    outcome = await run_tool("read_file", {"path": "empty.txt"}, ws)
    assert outcome.ok and outcome.output == "(empty file)"


# list_files


async def test_list_files_marks_folders_and_skips_git(ws: Workspace) -> None:
    (ws.project / "link").symlink_to(ws.project / "notes.md")
    outcome = await run_tool("list_files", {}, ws)
    assert outcome.ok
    assert outcome.output == "link@\nnotes.md\nsrc/"


async def test_list_files_walks_the_tree_when_recursive(ws: Workspace) -> None:
    (ws.project / "src" / "lib").mkdir()
    (ws.project / "src" / "lib" / "util.py").write_text("")
    outcome = await run_tool("list_files", {"path": ".", "recursive": True}, ws)
    assert outcome.output == "notes.md\nsrc/\nsrc/app.py\nsrc/lib/\nsrc/lib/util.py"


async def test_list_files_caps_a_recursive_listing(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files_module, "LIST_CAP", 3)
    outcome = await run_tool("list_files", {"recursive": True}, ws)
    assert outcome.output == "notes.md\nsrc/\nsrc/app.py"
    (ws.project / "src" / "more.py").write_text("")
    capped = await run_tool("list_files", {"recursive": True}, ws)
    assert capped.output == "notes.md\nsrc/\nsrc/app.py\n[truncated: more than 3 entries; list a subfolder]"


async def test_list_files_on_out_shows_the_agents_folders(ws: Workspace) -> None:
    before = await run_tool("list_files", {"path": "out:"}, ws)
    assert before.ok and before.output.startswith("(empty directory")
    for agent in ("logs", "charts"):
        (ws.out_root / agent).mkdir(parents=True)
    after = await run_tool("list_files", {"path": "out:"}, ws)
    assert after.output == "charts/\nlogs/"


async def test_list_files_refuses_a_file(ws: Workspace) -> None:
    outcome = await run_tool("list_files", {"path": "notes.md"}, ws)
    assert not outcome.ok
    assert outcome.output == "'notes.md' is a file, not a folder; use read_file to read it"


# write_file


async def test_write_file_creates_parents_and_reports_bytes(ws: Workspace) -> None:
    outcome = await run_tool("write_file", {"path": "charts/loc.svg", "content": "<svg>é</svg>"}, ws)
    assert outcome.ok
    assert outcome.output == "wrote 13 bytes to out:charts/charts/loc.svg"
    assert outcome.written == [ws.own_out / "charts" / "loc.svg"]
    assert (ws.own_out / "charts" / "loc.svg").read_text() == "<svg>é</svg>"


async def test_write_file_accepts_the_out_prefix_of_its_own_folder(ws: Workspace) -> None:
    first = await run_tool("write_file", {"path": "out:charts/report.md", "content": "draft"}, ws)
    second = await run_tool("write_file", {"path": "report.md", "content": "final"}, ws)
    assert first.ok and second.ok
    assert first.written == second.written == [ws.own_out / "report.md"]
    assert (ws.own_out / "report.md").read_text() == "final"


async def test_write_file_replaces_what_utf8_cannot_encode(ws: Workspace) -> None:
    outcome = await run_tool("write_file", {"path": "odd.txt", "content": "a\ud800b"}, ws)
    assert outcome.output == "wrote 3 bytes to out:charts/odd.txt"
    assert (ws.own_out / "odd.txt").read_bytes() == b"a?b"


@pytest.mark.parametrize("path", [".", "out:charts", "sub"])
async def test_write_file_refuses_a_folder(ws: Workspace, path: str) -> None:
    (ws.own_out / "sub").mkdir(parents=True)
    outcome = await run_tool("write_file", {"path": path, "content": "x"}, ws)
    assert not outcome.ok
    assert "folder" in outcome.output and repr(path) in outcome.output


async def test_write_file_names_the_file_when_a_parent_is_a_file(ws: Workspace) -> None:
    await run_tool("write_file", {"path": "data", "content": "x"}, ws)
    outcome = await run_tool("write_file", {"path": "data/points.csv", "content": "x"}, ws)
    assert not outcome.ok
    assert outcome.output.startswith("cannot write 'data/points.csv': ")


# Bad arguments


@pytest.mark.parametrize(
    ("tool", "args", "detail"),
    [
        ("read_file", {}, "missing required argument 'path'"),
        ("read_file", {"path": 7}, "'path' must be a string, got integer"),
        ("read_file", {"path": "a", "limit": True}, "'limit' must be an integer, got boolean"),
        ("read_file", {"path": "a", "offset": 0}, "'offset' must be at least 1, got 0"),
        ("read_file", {"file": "a"}, "unknown argument 'file'; it takes path, offset, limit"),
        ("list_files", {"recursive": "yes"}, "'recursive' must be a boolean, got string"),
        ("write_file", {"path": "a.md"}, "missing required argument 'content'"),
        ("write_file", {"path": "a.md", "content": None}, "'content' must be a string, got null"),
        ("run_command", {"command": ["ls"]}, "'command' must be a string, got array"),
        ("run_command", {"command": "  "}, "'command' is empty"),
        ("run_command", ["ls"], "expected an object, got list"),
    ],
)
async def test_bad_arguments_come_back_as_failed_outcomes(
    ws: Workspace, tool: str, args: dict, detail: str
) -> None:
    message = f"bad arguments for {tool}: {detail}"
    assert await _failure(run_tool(tool, args, ws)) == message
    assert await _failure(TOOLS[tool].run(args, ws)) == message


async def test_an_unknown_tool_is_a_failed_outcome(ws: Workspace) -> None:
    outcome = await run_tool("rm_rf", {}, ws)
    assert (outcome.ok, outcome.output) == (
        False,
        "unknown tool 'rm_rf'; the tools are read_file, list_files, write_file, run_command",
    )


async def _failure(call: Coroutine[Any, Any, ToolOutcome]) -> str:
    outcome = await call
    assert not outcome.ok
    return outcome.output


# run_command


async def test_run_command_runs_in_the_own_out_folder_and_reports_the_exit_code(ws: Workspace) -> None:
    outcome = await run_tool("run_command", {"command": "pwd; echo oops >&2; exit 3"}, ws)
    assert not outcome.ok
    assert outcome.output == f"{ws.own_out.resolve()}\noops\n[exit code 3]"


async def test_run_command_succeeds_on_exit_code_zero(ws: Workspace) -> None:
    outcome = await run_tool("run_command", {"command": "cat \"$TOKENMAXX_PROJECT/notes.md\" | wc -l"}, ws)
    assert outcome.ok
    assert outcome.output == "3\n[exit code 0]"


async def test_run_command_times_out_and_kills_the_group(ws: Workspace) -> None:
    quick = Workspace(ws.project, ws.out_root, ws.agent, command_timeout_s=0.5)
    started = time.monotonic()
    outcome = await run_tool("run_command", {"command": "sleep 30 & echo $! > pid; sleep 30"}, quick)
    assert time.monotonic() - started < 10
    assert not outcome.ok
    assert outcome.output.startswith(
        "(no output)\n[timed out after 0.5 s: the command and its processes were killed]"
    )
    assert not _process_running(int((ws.own_out / "pid").read_text()))


async def test_run_command_kills_a_process_that_ignores_sigterm(ws: Workspace) -> None:
    quick = Workspace(ws.project, ws.out_root, ws.agent, command_timeout_s=0.5)
    outcome = await run_tool("run_command", {"command": "trap '' TERM; echo $$ > pid; sleep 30"}, quick)
    assert "[timed out after 0.5 s" in outcome.output
    assert not _process_running(int((ws.own_out / "pid").read_text()))


@pytest.mark.parametrize("cancellations", [1, 2])
async def test_cancelling_a_command_kills_its_child_processes(ws: Workspace, cancellations: int) -> None:
    task = asyncio.create_task(run_tool("run_command", {"command": "sleep 60 & echo $! > pid; wait"}, ws))
    grandchild = await _read_pid(ws.own_out / "pid")
    assert _process_running(grandchild)
    for _ in range(cancellations):
        task.cancel()
        await asyncio.sleep(0)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _process_running(grandchild)


async def test_background_processes_are_stopped_when_the_command_ends(ws: Workspace) -> None:
    outcome = await run_tool("run_command", {"command": "sleep 60 >/dev/null 2>&1 & echo $! > pid"}, ws)
    assert outcome.ok
    assert not _process_running(int((ws.own_out / "pid").read_text()))


async def test_run_command_environment_is_built_from_an_allow_list(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = {
        "MY_API_KEY": "k1", "GITHUB_TOKEN": "k2", "OPENROUTER": "k3", "MY_PASS": "k4",
        "SENTRY_DSN": "https://k5@sentry.example/1", "SLACK_WEBHOOK_URL": "https://hooks.example/k6",
        "http_proxy": "http://user:k7@proxy.example:3128", "TOKENMAXX_DB": "/data/sessions.db",
        "PLAIN_SETTING": "k8",
    }  # fmt: skip
    for name, value in planted.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    passing = Workspace(ws.project, ws.out_root, ws.agent, env_pass=("PLAIN_SETTING",))
    outcome = await run_tool("run_command", {"command": "env"}, passing)
    variables = dict(line.split("=", 1) for line in outcome.output.splitlines() if "=" in line)
    assert set(variables) - {"PWD", "SHLVL", "_", "OLDPWD"} <= {
        "PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "TERM", "TZ", "TOKENMAXX_PROJECT", "TOKENMAXX_OUT", "PLAIN_SETTING"
    }  # fmt: skip
    assert not {v for v in planted.values() if v != "k8"} & set(variables.values())
    assert variables["PLAIN_SETTING"] == "k8" and variables["LC_ALL"] == "C.UTF-8"
    assert variables["HOME"] != os.environ.get("HOME") and not Path(variables["HOME"]).exists()
    assert variables["TOKENMAXX_PROJECT"] == str(ws.project.resolve())
    assert variables["TOKENMAXX_OUT"] == str(ws.out_root.resolve())


async def test_run_command_caps_its_output(ws: Workspace) -> None:
    small = Workspace(ws.project, ws.out_root, ws.agent, output_cap=100)
    outcome = await run_tool("run_command", {"command": "yes 0123456789 | head -n 1000"}, small)
    assert outcome.ok
    kept, note = outcome.output.split("\n[truncated: ")
    assert kept == ("0123456789\n" * 10)[:100]
    assert note == f"{11 * 1000 - 100} more characters]\n[exit code 0]"


async def test_run_command_reports_the_files_it_created_or_changed(ws: Workspace) -> None:
    for name in ("same.txt", "changed.txt"):
        await run_tool("write_file", {"path": name, "content": "before"}, ws)
    (ws.out_root / "logs").mkdir()
    command = "mkdir -p data && echo 1 > data/new.csv && echo after > changed.txt && echo x > ../logs/x.txt"
    outcome = await run_tool("run_command", {"command": command}, ws)
    assert outcome.ok
    assert outcome.written == [ws.own_out / "changed.txt", ws.own_out / "data" / "new.csv"]
    assert outcome.output.endswith("[files created or changed: changed.txt, data/new.csv]")


async def test_a_command_killed_by_a_signal_says_so(ws: Workspace) -> None:
    outcome = await run_tool("run_command", {"command": "kill -9 $$"}, ws)
    assert not outcome.ok
    assert outcome.output == "(no output)\n[killed by signal SIGKILL]"


async def test_cancelling_while_the_shell_starts_still_ends_its_children(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under load the shell runs, and starts children, before the start returns: a cancel then must not orphan them."""
    loop = asyncio.get_running_loop()
    real_exec = loop.subprocess_exec
    cancelled = asyncio.Event()

    async def slow_start(*args: object, **kwargs: object) -> object:
        started = await real_exec(*args, **kwargs)  # type: ignore[arg-type]
        await cancelled.wait()  # the child runs, and the cancel comes, before the caller hears of the shell
        return started

    monkeypatch.setattr(loop, "subprocess_exec", slow_start)
    task = asyncio.create_task(run_tool("run_command", {"command": "sleep 60 & echo $! > pid; wait"}, ws))
    grandchild = await _read_pid(ws.own_out / "pid")
    task.cancel()
    await asyncio.sleep(0)
    cancelled.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _process_running(grandchild)
