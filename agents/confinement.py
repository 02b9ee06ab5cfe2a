"""Which sandbox an agent's commands run in, and what that means for its `run_command` policy.

Where no sandbox confines the commands (bubblewrap missing or not working, or `sandbox = "none"`),
a `run_command` policy of `auto` becomes `ask`: a person sees each command, and why, before it runs.
"""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.agents.plan import Plan
from tokenmaxx.agents.plan_models import AgentSpec, Policy
from tokenmaxx.agents.tools import Workspace
from tokenmaxx.agents.tools.workspace import HistoryCopy
from tokenmaxx.agents.tools.sandbox import Sandbox, choose_sandbox
from tokenmaxx.agents.worktrees import Worktree

COMMAND_TOOL = "run_command"


def agent_sandbox(plan: Plan, spec: AgentSpec) -> Sandbox:
    """The sandbox the agent's commands run in on this machine."""
    return choose_sandbox(plan.sandbox_for(spec), spec.network)


def agent_workspace(
    plan: Plan, spec: AgentSpec, out_root: Path, history: HistoryCopy | None = None, worktree: Worktree | None = None
) -> Workspace:
    """The agent's view of the disk (its own worktree to edit, when it has one), how its commands run, and the history snapshot they see."""
    return Workspace(
        project=plan.workdir if worktree is None else worktree.path,
        writable_project=worktree is not None,
        git_dir=None if worktree is None else worktree.git_dir,
        out_root=out_root,
        agent=spec.name,
        sandbox=agent_sandbox(plan, spec),
        network=spec.network,
        env_pass=plan.env_pass_for(spec),
        history=history,
    )


def unconfined_reason(plan: Plan, spec: AgentSpec) -> str | None:
    """Why the agent's commands, which the plan lets run without asking, must ask instead; None when they need not."""
    if COMMAND_TOOL not in plan.tools_for(spec) or plan.policy_for(spec, COMMAND_TOOL) != "auto":
        return None
    sandbox = agent_sandbox(plan, spec)
    if sandbox.confined:
        return None
    return f"{sandbox.reason}; run_command asks instead of running unconfined (`tokenmaxx doctor` says more)"


def effective_policy(plan: Plan, spec: AgentSpec, tool: str) -> Policy:
    """The plan's policy for a tool call, with unconfined commands asking."""
    if tool == COMMAND_TOOL and unconfined_reason(plan, spec) is not None:
        return "ask"
    return plan.policy_for(spec, tool)


def sandbox_notices(plan: Plan) -> list[str]:
    """One line per agent whose commands ask because no sandbox confines them, and one for the plan's notify hook, which none does."""
    notices = []
    for spec in plan.agents:
        reason = unconfined_reason(plan, spec)
        if reason is not None:
            notices.append(f"{spec.name}: {reason}")
    if plan.notify.command is not None:
        notices.append(f"[notify] command runs unconfined at every notice: {plan.notify.command}")
    return notices
