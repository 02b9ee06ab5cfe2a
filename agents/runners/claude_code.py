"""Claude Code as an agent: `claude_agent_sdk.ClaudeSDKClient`, one `query()` per turn.

The CLI runs in its own process group (a small wrapper `setsid`s it) with an environment built from
an allow-list: its config folder and HOME under the session's out folder, the traffic that is not
the model's turned off, the plan's endpoint and key. A cancelled turn interrupts the CLI and
drains it to the turn's result; closing the runner ends the CLI's whole process group at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from contextlib import suppress
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

from tokenmaxx.agents.loop import TextCoalescer
from tokenmaxx.agents.providers.base import ToolCallPart
from tokenmaxx.agents.runners.base import RunnerSetup, TurnResult, harness_session, harness_tool
from tokenmaxx.agents.runners.claude_env import cli_wrapper, harness_env
from tokenmaxx.agents.runners.claude_meter import TurnMeter, recorded_cost
from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.agents.summary import reports_failure, summary_of
from tokenmaxx.sessions import events as ev

DRAIN_S = 3.0
CLOSE_S = 0.5
"""An idle CLI closes in about 30 ms; one that takes longer is ended with its process group."""
CONTINUE = "Carry on."
WRITE_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
ERROR_KINDS: dict[int, ev.ErrorKind] = {401: "auth", 403: "auth", 400: "bad_request", 429: "rate_limit", 529: "overloaded"}


class ClaudeCodeRunner:
    """Drives one Claude Code session for one agent."""

    def __init__(self, setup: RunnerSetup) -> None:
        self.setup = setup
        self.agent = setup.spec.name
        self.host = setup.host
        self.options = setup.spec.claude_code_options()
        self.turn = 0
        self.session_id: str | None = None
        self._created = False  # whether the CLI has written the session, so a reconnect resumes it
        self._announced = False
        self._prompt: list[str] = []
        self._client: ClaudeSDKClient | None = None
        self._messages: asyncio.Queue[object | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._asking: set[asyncio.Task[Any]] = set()
        self._meter = TurnMeter(self.host, self.agent, setup.spec.provider, setup.model)

    def start(self, prompt: str) -> None:
        self.session_id, self._created, self._announced = str(uuid.uuid4()), False, False
        self._prompt = [prompt]
        self._meter.cost_seen = 0.0

    def note(self, text: str) -> None:
        self._prompt.append(text)

    def restore(self, events: Sequence[ev.Event]) -> None:
        self.session_id = harness_session(events, self.agent)
        self._created = self._announced = self.session_id is not None
        self._meter.cost_seen = recorded_cost(events, self.agent)

    async def take_turn(self) -> TurnResult:
        await self.host.safe_point(self.agent)
        prompt = "\n\n".join(self._prompt) or CONTINUE
        refusal = await self.host.budget_refusal(self.agent, len(prompt) // 4 + 1, self.setup.spec.max_tokens)
        if refusal:
            return TurnResult(False, "over_budget", refusal)
        client = await self._connected()
        self._prompt = []
        self.turn += 1
        self.host.emit(ev.TurnStarted(agent=self.agent, turn=self.turn))
        self._announce()
        self._meter.begin_turn()
        self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="streaming"))
        await client.query(prompt)
        self._created = True
        try:
            return await self._receive(client)
        except _OverBudget as over:
            await self._interrupt(client)
            return TurnResult(False, "over_budget", str(over))
        except asyncio.CancelledError:
            await self._interrupt(client)
            raise

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        await self._cancel_asking()
        process, query = _cli_process(client), getattr(client, "_query", None)
        pid = getattr(process, "pid", None)
        try:
            await asyncio.wait_for(client.disconnect(), CLOSE_S)
        except (Exception, asyncio.TimeoutError):  # noqa: BLE001 - the CLI is being ended either way
            pass
        finally:
            _signal_group(pid, signal.SIGKILL)
            await cancel_and_drain(self._reader)
            if query is not None:
                query.close_receive_stream()  # the SDK leaves it to the reader when its close is cut short
            if process is not None:
                with suppress(Exception):
                    await process.aclose()

    # one turn ------------------------------------------------------------------------------

    async def _connected(self) -> ClaudeSDKClient:
        if self._client is None:
            client = ClaudeSDKClient(self._client_options())
            await client.connect()
            self._meter.new_process()
            self._client = client
            self._messages = asyncio.Queue()
            self._reader = asyncio.create_task(self._read(client), name=f"claude-code:{self.agent}")
        return self._client

    async def _read(self, client: ClaudeSDKClient) -> None:
        """Pass on every message of the CLI, in a task of its own, so a cancelled turn leaves the stream whole."""
        try:
            async for message in client.receive_messages():
                self._messages.put_nowait(message)
        finally:
            self._messages.put_nowait(None)

    def _client_options(self) -> ClaudeAgentOptions:
        workspace = self.setup.workspace
        own = workspace.command_dir
        own.mkdir(parents=True, exist_ok=True)
        home = self.setup.harness_home
        preset: dict[str, Any] = {"type": "preset", "preset": "claude_code", "append": self.setup.system}
        return ClaudeAgentOptions(
            model=self.setup.model,
            cwd=str(own),
            add_dirs=[str(workspace.project)],
            env=harness_env(self.setup.provider, home),
            cli_path=str(cli_wrapper(home)),
            system_prompt=preset if self.options.system_prompt == "claude_code" else self.setup.system,
            tools=list(self.options.allowed_tools),
            permission_mode=self.options.permission_mode,
            can_use_tool=self._can_use_tool,
            include_partial_messages=True,
            setting_sources=[],
            session_id=None if self._created else self.session_id,
            resume=self.session_id if self._created else None,
        )

    def _announce(self) -> None:
        """Record the harness session once, so a resume goes on in it."""
        if not self._announced and self.session_id:
            self._announced = True
            self.host.emit(
                ev.AgentStatusChanged(agent=self.agent, status="starting", reason="claude code session", harness_session=self.session_id)
            )

    async def _receive(self, client: ClaudeSDKClient) -> TurnResult:
        coalescer = TextCoalescer(self._emit_text, every_s=self.host.text_flush_s())
        try:
            while (message := await self._messages.get()) is not None:
                if isinstance(message, ResultMessage):
                    coalescer.flush()
                    return await self._finished(message)
                await self._on_message(message, coalescer)
        finally:
            coalescer.flush()
        return TurnResult(False, "failed", "the Claude Code CLI exited before the turn's result")

    async def _on_message(self, message: object, coalescer: TextCoalescer) -> None:
        match message:
            case StreamEvent(event=event, parent_tool_use_id=None):
                self._meter.on_stream(event)
                await self._over_budget_check(event)
                delta = event.get("delta", {}) if event.get("type") == "content_block_delta" else {}
                if delta.get("type") == "text_delta":
                    coalescer.add(delta.get("text", ""))
            case AssistantMessage(content=blocks):
                coalescer.flush()
                for block in blocks:
                    if isinstance(block, ToolUseBlock):
                        self.host.emit(ev.ToolCall(agent=self.agent, call_id=block.id, tool=block.name, args=dict(block.input)))
            case UserMessage(content=blocks) if isinstance(blocks, list):
                for block in blocks:
                    if isinstance(block, ToolResultBlock):
                        self._tool_result(block)
            case SystemMessage(subtype="api_retry", data=data):
                self._retrying(data)

    async def _finished(self, result: ResultMessage) -> TurnResult:
        self._meter.settle(result.usage, result.total_cost_usd, result.model_usage)
        said = result.result or ""
        if result.is_error:
            status = getattr(result, "api_error_status", None)
            return TurnResult(False, "failed", f"Claude Code: {result.subtype}" + (f" (HTTP {status})" if status else "") + (f": {summary_of(said)}" if said else ""))
        refusal = await self.host.budget_refusal(self.agent, 0, 0)
        if refusal:
            return TurnResult(False, "over_budget", refusal)
        return TurnResult(False, "failed" if reports_failure(said) else "done", summary_of(said))

    async def _over_budget_check(self, event: dict[str, Any]) -> None:
        """After each reply's usage, an agent past its budget is stopped there."""
        if event.get("type") == "message_delta":
            refusal = await self.host.budget_refusal(self.agent, 0, 0)
            if refusal:
                raise _OverBudget(refusal)

    def _emit_text(self, text: str) -> None:
        self.host.emit(ev.Text(agent=self.agent, text=text))

    def _tool_result(self, block: ToolResultBlock) -> None:
        content = block.content
        output = content if isinstance(content, str) else "\n".join(str(part.get("text", part)) for part in content or [])
        self.host.emit(ev.ToolResult(agent=self.agent, call_id=block.tool_use_id, ok=not block.is_error, output=output))

    def _retrying(self, data: dict[str, Any]) -> None:
        status = data.get("error_status")
        kind: ev.ErrorKind = ERROR_KINDS.get(status, "server" if status else "connection")  # type: ignore[arg-type]
        delay = (data.get("retry_delay_ms") or 0) / 1000
        attempt = f"attempt {data.get('attempt')} of {data.get('max_retries')}"
        self.host.emit(ev.ProviderError(agent=self.agent, error_kind=kind, message=f"Claude Code retries ({attempt}), HTTP {status}", retry_in_s=delay))
        self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="retrying", reason=f"{kind}, retry in {delay:.1f}s"))

    # approvals ----------------------------------------------------------------------------

    async def _can_use_tool(self, name: str, args: dict[str, Any], context: Any) -> PermissionResultAllow | PermissionResultDeny:
        task = asyncio.current_task()
        if task is not None:
            self._asking.add(task)
        try:
            return await self._decide(name, args, str(getattr(context, "tool_use_id", "") or name))
        finally:
            self._asking.discard(task)  # type: ignore[arg-type]

    async def _decide(self, name: str, args: dict[str, Any], call_id: str) -> PermissionResultAllow | PermissionResultDeny:
        tool = harness_tool(name)
        if name in WRITE_TOOLS and not self._inside_own_out(args.get("file_path") or args.get("notebook_path")):
            return PermissionResultDeny(message=f"{name} may only write inside {self.setup.workspace.command_dir}")
        policy = await self.host.policy(self.agent, tool)
        if policy == "deny":
            return PermissionResultDeny(message=f"{name} is not allowed for this agent (policy: deny)")
        if policy == "ask":
            approved, by = await self.host.approval(self.agent, ToolCallPart(call_id, tool, args))
            if not approved:
                return PermissionResultDeny(message=f"{name} was denied by {by}")
        self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="tool", reason=name))
        return PermissionResultAllow()

    def _inside_own_out(self, path: object) -> bool:
        if not isinstance(path, str) or not path:
            return False
        own = self.setup.workspace.command_dir.resolve()
        target = Path(os.path.realpath(own / path))
        return target == own or own in target.parents

    async def _cancel_asking(self) -> None:
        asking, self._asking = list(self._asking), set()
        for task in asking:
            task.cancel()
        await asyncio.gather(*asking, return_exceptions=True)

    # interrupting ------------------------------------------------------------------------

    async def _interrupt(self, client: ClaudeSDKClient) -> None:
        """Stop the CLI's turn and read on to its result, so the next query starts clean; bounded."""
        await self._cancel_asking()
        try:
            await asyncio.wait_for(self._interrupt_and_drain(client), DRAIN_S)
        except (Exception, asyncio.TimeoutError):  # noqa: BLE001 - a CLI that will not stop is ended by aclose
            self._meter.flush()
            await self.aclose()

    async def _interrupt_and_drain(self, client: ClaudeSDKClient) -> None:
        await client.interrupt()
        while (message := await self._messages.get()) is not None:
            if isinstance(message, ResultMessage):
                self._meter.settle(message.usage, message.total_cost_usd, message.model_usage)
                return
            if isinstance(message, StreamEvent) and message.event.get("type") == "content_block_delta":
                self._meter.on_stream(message.event)  # the CLI closes a cut reply itself: that is no usage the API gave
        self._meter.flush()


class _OverBudget(Exception):
    """Raised inside a turn whose agent went past its budget on the last reply."""


def _cli_process(client: ClaudeSDKClient) -> Any:
    """The CLI's process, which the SDK keeps private: its pid leads the CLI's process group."""
    return getattr(getattr(client, "_transport", None), "_process", None)


def _signal_group(pid: int | None, sig: signal.Signals) -> None:
    """Signal the CLI's process group (it leads one: the wrapper setsid's it), children included."""
    if pid is None:
        return
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
