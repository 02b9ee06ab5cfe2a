"""A Codex agent: `codex app-server` driven turn by turn, its stream turned into tokenmaxx events.

One tokenmaxx turn is one Codex turn (`turn/start` until `turn/completed`; Codex runs its own
tool loop inside it). Supervision maps onto the app server: a cancelled turn (reprompt, kill)
is `turn/interrupt`ed and drained, a reprompt is the next `turn/start` on the same thread,
approvals go through the host's policy and queue, and a CLI that keeps reconnecting to a
model it cannot reach fails the turn after `give_up_after_s` instead of hanging.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenmaxx.agents.conversation import initial_text
from tokenmaxx.agents.loop import CHARS_PER_TOKEN
from tokenmaxx.agents.providers.base import ToolCallPart
from tokenmaxx.agents.runners.base import RunnerSetup, TurnResult, harness_session
from tokenmaxx.agents.runners.codex_home import (
    DEFAULT_BASE_URL,
    CodexSetup,
    app_server_argv,
    codex_env,
    find_codex,
    missing_codex_message,
    prepare_home,
)
from tokenmaxx.agents.runners.codex_rpc import CodexExited, CodexRpc, RpcError
from tokenmaxx.agents.runners.codex_turn import COMMAND_TOOL, FILE_TOOL, CodexTurn
from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.sessions import events as ev

Json = dict[str, Any]
INTERRUPT_S = 2.0
GIVE_UP_STALLS = 2
"""A model unreachable for this many stall windows (the plan's `stall_after`) fails the turn."""
CONTINUE = "Continue with your task from where you stopped."
APPROVAL_TOOLS = {"item/commandExecution/requestApproval": COMMAND_TOOL, "item/fileChange/requestApproval": FILE_TOOL}


class GiveUp(Exception):
    """The model stayed unreachable for longer than the runner waits."""


class OverBudget(Exception):
    """A usage report took the agent past a budget."""


@dataclass(frozen=True, slots=True)
class CodexAgent:
    """What a Codex runner is for: the agent, its model, where it works and how long it waits."""

    agent: str
    provider: str
    codex: Path | None
    folder: Path
    workdir: Path
    setup: CodexSetup
    codex_path: str | None = None
    max_output_tokens: int = 4096
    give_up_after_s: float = 120.0


def codex_agent(setup: RunnerSetup) -> CodexAgent:
    """The Codex runner's configuration, from the plan and the session."""
    spec, options = setup.spec, setup.spec.codex_options()
    return CodexAgent(
        agent=spec.name,
        provider=spec.provider,
        codex=find_codex(options.codex_path),
        folder=setup.harness_home / "codex",
        workdir=setup.workspace.command_dir,
        setup=CodexSetup(
            model=setup.model,
            base_url=setup.provider.base_url or DEFAULT_BASE_URL,
            key_env=setup.provider.key_env or "OPENAI_API_KEY",
            sandbox=options.sandbox,
        ),
        codex_path=options.codex_path,
        max_output_tokens=spec.max_tokens,
        give_up_after_s=GIVE_UP_STALLS * setup.stall_after_s,
    )


class CodexRunner:
    """Drives one agent's Codex thread."""

    def __init__(self, setup: RunnerSetup) -> None:
        self.spec = codex_agent(setup)
        self.host = setup.host
        self.agent = self.spec.agent
        self.turn = 0
        self.thread_id: str | None = None
        self.rpc: CodexRpc | None = None
        self._attached = False
        self._pending: list[str] = [initial_text(setup.spec.task)]
        self._current: CodexTurn | None = None
        self._asking: set[asyncio.Task[Any]] = set()
        self._unreachable_since: float | None = None
        self._thread_total = -1

    def start(self, prompt: str) -> None:
        """Begin a new Codex thread whose first turn hears `prompt`."""
        self.thread_id, self._attached, self._pending = None, False, [prompt]

    def note(self, text: str) -> None:
        """Say `text` to the agent at the start of its next turn (a reprompt)."""
        self._pending.append(text)

    def restore(self, events: Sequence[ev.Event]) -> None:
        """Go on in the Codex thread the session recorded (a fresh thread with the task when none was)."""
        thread_id = harness_session(events, self.agent)
        if thread_id:
            self.thread_id, self._attached, self._pending = thread_id, False, []

    async def aclose(self) -> None:
        """End the CLI's process group and every task the runner started."""
        await cancel_and_drain(*self._asking)
        if self.rpc is not None:
            await self.rpc.aclose()

    async def take_turn(self) -> TurnResult:
        """One Codex turn: checked against the budget, started, translated, and drained if cancelled."""
        await self.host.safe_point(self.agent)
        prompt = "\n\n".join(self._pending) or CONTINUE
        prompt_tokens = len(prompt) // CHARS_PER_TOKEN + 1
        refusal = await self.host.budget_refusal(self.agent, prompt_tokens, self.spec.max_output_tokens)
        if refusal:
            return TurnResult(False, "over_budget", refusal)
        if self.spec.codex is None:
            return TurnResult(False, "failed", missing_codex_message(self.spec.codex_path))
        try:
            await self._attach()
        except (CodexExited, RpcError) as error:
            return TurnResult(False, "failed", str(error))
        self._pending = []
        self.turn += 1
        self.host.emit(ev.TurnStarted(agent=self.agent, turn=self.turn))
        self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="streaming"))
        turn = CodexTurn(self.agent, self.spec.provider, self.spec.setup.model, self.host, prompt_tokens, last_total=self._thread_total)
        self._current = turn
        try:
            return await self._run(turn, prompt)
        except asyncio.CancelledError:
            await self._interrupt(turn)
            raise
        finally:
            turn.flush()
            self._thread_total = turn.last_total
            self._current = None

    async def _attach(self) -> None:
        if self.rpc is None or self.rpc.exited is not None:
            self.rpc = await self._started_rpc()
            self._attached = False
        if self._attached:
            return
        params = {"cwd": str(self.spec.workdir), "approvalPolicy": "untrusted", "sandbox": self.spec.setup.sandbox}
        if self.thread_id is None:
            started = await self.rpc.request("thread/start", params)
            self.thread_id = str(started["thread"]["id"])
            self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="starting", reason="codex thread", harness_session=self.thread_id))
        else:
            await self.rpc.request("thread/resume", {"threadId": self.thread_id, **params})
        self._attached = True

    async def _started_rpc(self) -> CodexRpc:
        assert self.spec.codex is not None
        codex_home = prepare_home(self.spec.folder, self.spec.setup)
        env = codex_env(self.spec.folder, codex_home, self.spec.setup.key_env)
        self.spec.workdir.mkdir(parents=True, exist_ok=True)
        rpc = CodexRpc(
            app_server_argv(self.spec.codex), env=env, cwd=self.spec.workdir, on_request=self._on_request, name=f"codex:{self.agent}"
        )
        try:
            await rpc.start()
        except BaseException:
            await rpc.aclose()
            raise
        return rpc

    async def _run(self, turn: CodexTurn, prompt: str) -> TurnResult:
        assert self.rpc is not None and self.thread_id is not None
        try:
            started = await self.rpc.request("turn/start", {"threadId": self.thread_id, "input": [{"type": "text", "text": prompt}]})
            turn.turn_id = str(started["turn"]["id"])
            while True:
                result = await self._handle(turn, await self._next(turn))
                if result is not None:
                    return result
        except (CodexExited, RpcError) as error:
            self._attached = False
            turn.billed_estimate()
            return TurnResult(False, "failed", str(error))
        except (GiveUp, OverBudget) as error:
            await self._interrupt(turn)
            return TurnResult(False, "over_budget" if isinstance(error, OverBudget) else "failed", str(error))

    async def _next(self, turn: CodexTurn) -> Json:
        """The next notification of this turn, raising GiveUp once the model was unreachable too long."""
        assert self.rpc is not None
        while True:
            wait = None if self._unreachable_since is None else self._give_up_in()
            try:
                async with asyncio.timeout(wait):
                    message = await self.rpc.notifications.get()
            except TimeoutError:
                raise GiveUp(self._unreachable(turn)) from None
            if isinstance(message, CodexExited):
                raise message
            if turn.owns(message):
                return message

    async def _handle(self, turn: CodexTurn, message: Json) -> TurnResult | None:
        params = message.get("params") or {}
        match message.get("method"):
            case "item/agentMessage/delta":
                self._progress()
                turn.text(str(params.get("delta") or ""))
            case "item/started":
                turn.item_started(params.get("item") or {})
            case "item/completed":
                self._progress()
                turn.item_completed(params.get("item") or {})
            case "thread/tokenUsage/updated":
                return await self._usage(turn, params)
            case "error":
                return self._error(turn, params)
            case "turn/completed":
                return turn.completed(params.get("turn") or {})
        return None

    async def _usage(self, turn: CodexTurn, params: Json) -> TurnResult | None:
        if turn.usage(params) is None:
            return None
        self._progress()
        refusal = await self.host.budget_refusal(self.agent, 0, 0)
        if refusal:
            raise OverBudget(refusal)
        return None

    def _error(self, turn: CodexTurn, params: Json) -> TurnResult | None:
        error = params.get("error") or {}
        message = " ".join(str(part) for part in (error.get("message"), error.get("additionalDetails")) if part)
        turn.error = message or turn.error
        if not params.get("willRetry"):
            return None
        if self._unreachable_since is None:
            self._unreachable_since = time.monotonic()
            status = ((error.get("codexErrorInfo") or {}).get("responseStreamDisconnected") or {}).get("httpStatusCode")
            kind = "rate_limit" if status == 429 else "connection" if status is None else "server"
            self.host.emit(ev.ProviderError(agent=self.agent, error_kind=kind, message=f"codex: {message}"))
        if self._give_up_in() <= 0:
            raise GiveUp(self._unreachable(turn))
        return None

    def _progress(self) -> None:
        self._unreachable_since = None

    def _give_up_in(self) -> float:
        assert self._unreachable_since is not None
        return self._unreachable_since + self.spec.give_up_after_s - time.monotonic()

    def _unreachable(self, turn: CodexTurn) -> str:
        waited = time.monotonic() - (self._unreachable_since or time.monotonic())
        detail = f" ({turn.error})" if turn.error else ""
        return f"codex could not reach the model at {self.spec.setup.base_url} for {waited:.0f}s{detail}; giving up"

    async def _interrupt(self, turn: CodexTurn) -> None:
        """Stop the turn in Codex and drain it; a Codex that does not stop is ended and restarted next turn."""
        await cancel_and_drain(*self._asking)
        rpc = self.rpc
        if rpc is None or rpc.exited is not None or not turn.turn_id:
            turn.billed_estimate()
            return
        try:
            async with asyncio.timeout(INTERRUPT_S):
                await rpc.request("turn/interrupt", {"threadId": self.thread_id, "turnId": turn.turn_id})
                await self._drain(turn)
        except (TimeoutError, CodexExited, RpcError):
            await rpc.kill()
            self._attached = False
        turn.billed_estimate()

    async def _drain(self, turn: CodexTurn) -> None:
        assert self.rpc is not None
        while True:
            message = await self.rpc.notifications.get()
            if isinstance(message, CodexExited):
                raise message
            if not turn.owns(message):
                continue
            if message.get("method") == "thread/tokenUsage/updated":
                turn.usage(message.get("params") or {})
            elif message.get("method") == "turn/completed":
                return

    async def _on_request(self, method: str, params: Json) -> Json:
        """Answer an approval request from Codex under the agent's policy; other requests are refused."""
        tool = APPROVAL_TOOLS.get(method)
        turn = self._current
        if tool is None or turn is None:
            raise RpcError(method, {"message": f"tokenmaxx does not answer {method}"})
        call_id = str(params.get("itemId") or params.get("approvalId") or "")
        args = {"command": str(params.get("command") or "")} if tool == COMMAND_TOOL else {"reason": str(params.get("reason") or "")}
        turn.announce(call_id, tool, args)
        task = asyncio.current_task()
        assert task is not None
        self._asking.add(task)
        try:
            approved, by = await self._decide(ToolCallPart(call_id, tool, args))
        finally:
            self._asking.discard(task)
        if not approved:
            turn.denied[call_id] = by
        self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="tool", reason=tool))
        return {"decision": "accept" if approved else "decline"}

    async def _decide(self, call: ToolCallPart) -> tuple[bool, str]:
        policy = await self.host.policy(self.agent, call.name)
        if policy == "auto":
            return True, "policy"
        if policy == "deny":
            return False, "policy (deny)"
        return await self.host.approval(self.agent, call)
