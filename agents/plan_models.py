"""The shape of a plan file: pydantic models, strict and closed so typos are caught.

Every model forbids unknown keys and takes TOML's types as they are (no string
to number coercion). `PlanFile` is the file as written; `agents.plan.Plan`
adds the resolved paths.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

Policy = Literal["auto", "ask", "deny"]
ProviderKind = Literal["anthropic", "openai", "sim"]
SandboxMode = Literal["auto", "bwrap", "none"]
HarnessKind = Literal["claude-code", "codex"]
AGENT_BASE = "agent:"  # `base = "agent:<name>"`: start from that upstream agent's branch
WorkspaceKind = Literal["readonly", "worktree"]
MergeMode = Literal["ff", "merge", "squash"]

KNOWN_TOOLS = ("read_file", "list_files", "write_file", "run_command")
PROVIDER_KINDS = ("anthropic", "openai", "sim")
DEFAULT_POLICY: dict[str, Policy] = {
    "read_file": "auto",
    "list_files": "auto",
    "write_file": "auto",
    "run_command": "ask",
}
DEFAULT_KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
DEFAULT_PRICE_AS = "claude-sonnet-4-6"
DEFAULT_CUSTOM_ROLE_TOOLS = ("read_file", "list_files", "write_file")
SIM_ONLY_KEYS = ("price_as", "speed", "seed")
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
MIN_SIM_SPEED = 0.05
MAX_SIM_SPEED = 1000
MAX_INT64 = 2**63 - 1
MAX_TOKENS = 10**12
MAX_REPLY_TOKENS = 10**7
MAX_PARALLEL = 1000
MAX_WORKERS = 64
MAX_LOOP_TIMES = 10_000
MAX_STALL_S = 7 * 86_400


class _PlanModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class Budget(_PlanModel):
    """A spending cap; either limit may be left out."""

    usd: float | None = Field(default=None, gt=0)
    tokens: int | None = Field(default=None, gt=0, le=MAX_TOKENS)


class LoopSpec(_PlanModel):
    """How often a finished agent restarts on the same task; `times=None` means until `until_usd`."""

    times: int | None = Field(default=None, ge=1, le=MAX_LOOP_TIMES)
    until_usd: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _once_by_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and "times" not in data and "until_usd" not in data:
            return {**data, "times": 1}
        return data


class ProviderConfig(_PlanModel):
    """A named model provider: its kind, endpoint, key variable and limits."""

    kind: ProviderKind
    base_url: str | None = None
    api_key_env: str | None = None
    headers: dict[str, str] = {}
    max_concurrent: int | None = Field(default=None, ge=1, le=MAX_PARALLEL)
    price_as: str = DEFAULT_PRICE_AS
    speed: float = Field(default=1.0, ge=MIN_SIM_SPEED, le=MAX_SIM_SPEED)
    seed: int = Field(default=0, ge=-MAX_INT64, le=MAX_INT64)

    @property
    def key_env(self) -> str | None:
        """The environment variable holding the API key (None for the sim)."""
        return self.api_key_env or DEFAULT_KEY_ENV.get(self.kind)


class Price(_PlanModel):
    """USD per million tokens for a model the price table lacks, or `price_as` another model (an alias)."""

    input: float | None = Field(default=None, ge=0)
    output: float | None = Field(default=None, ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    price_as: str | None = Field(default=None, min_length=1)


class RoleSpec(_PlanModel):
    """A role defined by the plan; after loading, `prompt` holds the text even when given as a file."""

    prompt: str | None = None
    prompt_file: str | None = None
    tools: list[str] = Field(default_factory=lambda: list(DEFAULT_CUSTOM_ROLE_TOOLS))


class ClaudeCodeOptions(_PlanModel):
    """`[agents.harness_options]` of a Claude Code agent."""

    allowed_tools: list[str] = Field(default_factory=lambda: ["Read", "Write", "Edit", "Bash", "Glob", "Grep"])
    system_prompt: Literal["claude_code", "role"] = "claude_code"  # Claude Code's own prompt (role appended), or the role's alone
    permission_mode: Literal["default", "acceptEdits", "plan"] = "default"


class CodexOptions(_PlanModel):
    """`[agents.harness_options]` of a Codex agent."""

    sandbox: Literal["read-only", "workspace-write", "danger-full-access"] = "workspace-write"
    codex_path: str | None = None


HARNESS_OPTIONS: dict[str, type[ClaudeCodeOptions] | type[CodexOptions]] = {
    "claude-code": ClaudeCodeOptions,
    "codex": CodexOptions,
}
HARNESS_PROVIDER_KIND = {"claude-code": "anthropic", "codex": "openai"}


class NotifySpec(_PlanModel):
    """The plan's own notification hook: a shell command run with each notice as JSON on stdin, unconfined."""

    command: str | None = Field(default=None, min_length=1)
    env_pass: list[str] = []  # environment variables the command gets, on top of PATH, HOME and LANG


class AgentSpec(_PlanModel):
    """One agent of the fleet as the plan describes it.

    `history = true` gives its commands $TOKENMAXX_HISTORY: a read-only snapshot of the session
    database taken each time the agent starts (never the live database; skipped, with a note, past 512 MB).
    """

    name: str = Field(pattern=NAME_PATTERN)
    role: str
    provider: str = "sim"
    model: str | None = None
    task: str = Field(min_length=1)
    tools: list[str] | None = None
    policy: dict[str, Policy] = {}
    budget: Budget = Field(default_factory=Budget)
    after: list[str] = []
    loop: LoopSpec = Field(default_factory=LoopSpec)
    max_tokens: int = Field(default=4096, ge=1, le=MAX_REPLY_TOKENS)
    sim: dict[str, Any] = {}
    sandbox: SandboxMode | None = None  # None: the fleet's
    network: bool = False  # whether its commands reach the network (from inside the sandbox)
    env_pass: list[str] = []  # environment variables its commands get, on top of the fleet's
    history: bool = False  # whether its commands get a read-only snapshot of the session history
    price_as: str | None = Field(default=None, min_length=1)
    harness: HarnessKind | None = None  # None: tokenmaxx's own loop
    harness_options: dict[str, Any] = {}  # checked against the harness's options model (plan_checks)
    workspace: WorkspaceKind | None = None  # None: the fleet's; "worktree" gives it a git worktree of the workdir to edit
    base: str | None = Field(default=None, min_length=1)  # the worktree's starting point: a ref, or "agent:<name>" (the default: HEAD)

    def claude_code_options(self) -> ClaudeCodeOptions:
        return ClaudeCodeOptions.model_validate(self.harness_options)

    def codex_options(self) -> CodexOptions:
        return CodexOptions.model_validate(self.harness_options)


def _worker_count(value: Any) -> Any:
    """`workers`: "auto", or a whole number of processes from 1 to MAX_WORKERS."""
    if value == "auto" or (type(value) is int and 1 <= value <= MAX_WORKERS):
        return value
    shown = f'"{value}"' if isinstance(value, str) else str(value).lower()
    raise ValueError(f'expected "auto" or a whole number from 1 to {MAX_WORKERS}, got {shown}')


class PlanFile(_PlanModel):
    """A plan as written in its TOML file, paths still relative to the file's folder."""

    name: str | None = Field(default=None, min_length=1)
    workdir: str = "."
    out: str = "tokenmaxx-out"
    max_parallel: int = Field(default=5, ge=1, le=MAX_PARALLEL)
    workers: Annotated[int | Literal["auto"], BeforeValidator(_worker_count)] = "auto"  # processes running own-loop agents; 1: the fleet's own
    stall_after: float = Field(default=60.0, gt=0, le=MAX_STALL_S)
    loop_repeats: int = Field(default=3, ge=2, le=MAX_LOOP_TIMES)
    burn_tokens: int = Field(default=20_000, ge=1, le=MAX_TOKENS)
    budget: Budget = Field(default_factory=Budget)
    sandbox: SandboxMode = "auto"
    env_pass: list[str] = []
    notify: NotifySpec = Field(default_factory=NotifySpec)
    workspace: WorkspaceKind = "readonly"
    merge: MergeMode = "merge"  # how an accepted worktree diff joins its base branch
    keep_worktrees: bool = False  # keep reviewed agents' worktrees and branches when the session ends
    providers: dict[str, ProviderConfig] = {}
    prices: dict[str, Price] = {}
    roles: dict[str, RoleSpec] = {}
    agents: list[AgentSpec] = []

    def priced_as(self, agent: AgentSpec, provider_price_as: str | None = None) -> str:
        """The model an agent's replies are priced as: its `price_as`, its provider's, else its model; a `[prices]` alias followed."""
        return self.alias_of(agent.price_as or provider_price_as or agent.model or self.sim_price_as(agent) or "")

    def sim_price_as(self, agent: AgentSpec) -> str | None:
        """The model a sim agent's provider prices as; None for other kinds."""
        config = self.providers.get(agent.provider)
        if config is None:
            return DEFAULT_PRICE_AS if agent.provider == "sim" else None
        return config.price_as if config.kind == "sim" else None

    def alias_of(self, model: str) -> str:
        """The model a `[prices."MODEL"] price_as = ...` alias names, else `model` itself."""
        alias = self.prices.get(model)
        return alias.price_as if alias is not None and alias.price_as is not None else model

    @model_validator(mode="before")
    @classmethod
    def _kind_from_provider_name(cls, data: Any) -> Any:
        """Let `[providers.openai]` leave out `kind = "openai"`."""
        providers = data.get("providers") if isinstance(data, dict) else None
        if not isinstance(providers, dict):
            return data
        filled = {
            name: {"kind": name, **config} if isinstance(config, dict) and name in PROVIDER_KINDS else config
            for name, config in providers.items()
        }
        return {**data, "providers": filled}
