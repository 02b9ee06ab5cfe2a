"""Plans: valid plans with their defaults, and malformed ones with their exact messages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tokenmaxx.agents.plan import (
    KNOWN_TOOLS,
    Plan,
    PlanError,
    ProviderConfig,
    load_plan,
    parse_plan,
)
from tokenmaxx.agents.roles import BUILTIN_ROLES, UnknownRole
from tokenmaxx.agents.starter import SAMPLE_NOTES, Site, sample_plan_text, write_sample_plan

FLEET = Path("fleet.toml")

THREE_AGENTS = """\
name = "talk-deck"

[[agents]]
name = "charts"
role = "chart-builder"
task = "Chart lines of code."

[[agents]]
name = "logs"
role = "log-analyst"
task = "Group failures."

[[agents]]
name = "deck"
role = "deck-builder"
task = "Build the deck."
after = ["charts", "logs"]
"""


def plan_error(text: str) -> str:
    """Parse `text` as fleet.toml and return the PlanError's text."""
    with pytest.raises(PlanError) as caught:
        parse_plan(text, FLEET)
    return str(caught.value)


def agent_block(name: str, extra: str = "", role: str = "critic") -> str:
    return f'[[agents]]\nname = "{name}"\nrole = "{role}"\ntask = "Do it."\n{extra}'


# ---------------------------------------------------------------------------- malformed


def test_unknown_agent_in_after_names_file_line_and_field() -> None:
    text = THREE_AGENTS.replace('after = ["charts", "logs"]', 'after = ["charts", "dek"]')
    assert text.splitlines()[16] == 'after = ["charts", "dek"]'
    assert plan_error(text) == 'fleet.toml:17: agents[2].after: unknown agent "dek" (did you mean "deck"?)'


MALFORMED = [
    pytest.param(
        THREE_AGENTS.replace('"logs"]', '"zebra"]'),
        'fleet.toml:17: agents[2].after: unknown agent "zebra"',
        id="unknown-agent-far-from-any-name-gets-no-suggestion",
    ),
    pytest.param(
        'name = "x"\n\n[[agents]]\nname = "a" "b"\n',
        "fleet.toml:4: invalid TOML: expected newline or end of document after a statement (column 12)",
        id="toml-syntax-error-keeps-tomllib-line",
    ),
    pytest.param(
        "[budget]\nusd = 1.0\n[budget]\ntokens = 5\n",
        "fleet.toml:3: invalid TOML: table [budget] is declared twice (column 8)",
        id="table-declared-twice",
    ),
    pytest.param(
        'name = "x"\nmax_paralel = 4\n',
        'fleet.toml:2: max_paralel: unknown key "max_paralel" (did you mean "max_parallel"?)',
        id="unknown-top-level-key-suggests-the-close-one",
    ),
    pytest.param(
        agent_block("a") + agent_block("b", 'modle = "claude-sonnet-4-6"\n'),
        'fleet.toml:9: agents[1].modle: unknown key "modle" (did you mean "model"?)',
        id="unknown-agent-key-in-second-agent",
    ),
    pytest.param(
        agent_block("a", "budget = { usd = 1.0, tokns = 5 }\n"),
        'fleet.toml:5: agents[0].budget.tokns: unknown key "tokns" (did you mean "tokens"?)',
        id="unknown-key-inside-inline-table",
    ),
    pytest.param(
        agent_block("a") + '\n[[agents]]\nname = "b"\nrole = "critic"\n',
        "fleet.toml:6: agents[1].task: missing required key",
        id="missing-task-points-at-the-agent-table",
    ),
    pytest.param(
        'max_parallel = "5"\n',
        'fleet.toml:1: max_parallel: expected an integer, got string "5"',
        id="wrong-type-is-named-in-toml-terms",
    ),
    pytest.param(
        agent_block("a", 'tools = ["read_file", 3]\n'),
        "fleet.toml:5: agents[0].tools[1]: expected a string, got integer 3",
        id="wrong-type-of-an-array-element",
    ),
    pytest.param(
        agent_block("a", "budget = 2.0\n"),
        "fleet.toml:5: agents[0].budget: expected a table, got float 2.0",
        id="wrong-type-for-a-table",
    ),
    pytest.param(
        "max_parallel = 0\n",
        "fleet.toml:1: max_parallel: must be >= 1, got 0",
        id="max-parallel-below-one",
    ),
    pytest.param(
        agent_block("a", "budget = { usd = -2.0 }\n"),
        "fleet.toml:5: agents[0].budget.usd: must be > 0, got -2.0",
        id="negative-agent-budget-in-inline-table",
    ),
    pytest.param(
        agent_block("a") + agent_block("b") + "[agents.budget]\ntokens = -5\n",
        "fleet.toml:10: agents[1].budget.tokens: must be > 0, got -5",
        id="negative-budget-in-a-sub-table-of-an-array-entry",
    ),
    pytest.param(
        agent_block("a", 'policy = { run_command = "sometimes" }\n'),
        'fleet.toml:5: agents[0].policy.run_command: expected one of "auto", "ask" or "deny", got string "sometimes"',
        id="bad-policy-value",
    ),
    pytest.param(
        '[[agents]]\nname = "Charts"\nrole = "critic"\ntask = "x"\n',
        'fleet.toml:2: agents[0].name: invalid name "Charts": use lowercase letters, digits, "-" and "_",'
        " starting with a letter or digit",
        id="invalid-agent-name",
    ),
    pytest.param(
        '[[agents]]\nname = "a"\nrole = "critic"\ntask = ""\n',
        "fleet.toml:4: agents[0].task: must not be empty",
        id="empty-task",
    ),
    pytest.param(
        agent_block("a") + agent_block("b") + agent_block("a"),
        'fleet.toml:10: agents[2].name: duplicate agent name "a" (also agents[0])',
        id="duplicate-agent-names",
    ),
    pytest.param(
        agent_block("a", role="chart-bulder"),
        'fleet.toml:3: agents[0].role: unknown role "chart-bulder" (did you mean "chart-builder"?)',
        id="unknown-role-suggests-the-close-one",
    ),
    pytest.param(
        '[providers.claude]\nkind = "anthropic"\n\n' + agent_block("a", 'provider = "claud"\nmodel = "m"\n'),
        'fleet.toml:8: agents[0].provider: unknown provider "claud" (did you mean "claude"?)',
        id="unknown-provider",
    ),
    pytest.param(
        '[providers.local]\nkind = "ollama"\n',
        'fleet.toml:2: providers.local.kind: expected one of "anthropic", "openai" or "sim", got string "ollama"',
        id="unknown-provider-kind",
    ),
    pytest.param(
        agent_block("a", 'tools = [\n  "read_file",\n  "run_cmd",\n]\n'),
        'fleet.toml:7: agents[0].tools: unknown tool "run_cmd" (did you mean "run_command"?)',
        id="unknown-tool-in-a-multi-line-tools-array",
    ),
    pytest.param(
        agent_block("a", 'tools = ["read_file", "read_file"]\n'),
        'fleet.toml:5: agents[0].tools: tool "read_file" is listed twice',
        id="tool-listed-twice",
    ),
    pytest.param(
        agent_block("a", 'policy = { write_fil = "deny" }\n'),
        'fleet.toml:5: agents[0].policy.write_fil: unknown tool "write_fil" (did you mean "write_file"?)',
        id="unknown-tool-in-policy",
    ),
    pytest.param(
        agent_block("a") + agent_block("b", 'after = ["b"]\n'),
        'fleet.toml:9: agents[1].after: "b" cannot come after itself',
        id="self-dependency",
    ),
    pytest.param(
        agent_block("charts", 'after = ["deck"]\n') + agent_block("deck", 'after = ["charts"]\n'),
        "fleet.toml:5: agents[0].after: dependency cycle: charts -> deck -> charts",
        id="two-agent-cycle-is-named-from-its-first-agent",
    ),
    pytest.param(
        agent_block("intro")
        + agent_block("b", 'after = ["intro", "d"]\n')
        + agent_block("c", 'after = ["b"]\n')
        + agent_block("d", 'after = ["c"]\n'),
        "fleet.toml:9: agents[1].after: dependency cycle: b -> d -> c -> b",
        id="longer-cycle-behind-an-innocent-agent",
    ),
    pytest.param(
        agent_block("a", 'provider = "anthropic"\n'),
        'fleet.toml:1: agents[0].model: required for provider "anthropic" (kind "anthropic")',
        id="real-provider-needs-a-model",
    ),
    pytest.param(
        '[providers.gpt]\nkind = "openai"\nspeed = 2.0\n',
        'fleet.toml:3: providers.gpt.speed: only for kind "sim", not "openai"',
        id="sim-only-key-on-a-real-provider",
    ),
    pytest.param(
        '[providers.sim]\nbase_url = "http://127.0.0.1:1"\n',
        'fleet.toml:2: providers.sim.base_url: not used by kind "sim"',
        id="endpoint-key-on-the-sim",
    ),
    pytest.param(
        '[prices."glm-5.2"]\ninput = 1.4\n',
        'fleet.toml:1: prices."glm-5.2".output: missing required key',
        id="quoted-key-in-field-path",
    ),
    pytest.param(
        agent_block("a", "loop = { times = 0 }\n"),
        "fleet.toml:5: agents[0].loop.times: must be >= 1, got 0",
        id="loop-times-zero",
    ),
    pytest.param(
        '[roles.summariser]\nprompt = "x"\nprompt_file = "x.md"\n',
        "fleet.toml:1: roles.summariser: give either prompt or prompt_file, not both",
        id="custom-role-with-both-prompt-kinds",
    ),
    pytest.param(
        '[roles.summariser]\ntools = ["read_file"]\n',
        "fleet.toml:1: roles.summariser: needs a prompt or a prompt_file",
        id="custom-role-with-no-prompt",
    ),
    pytest.param(
        '[roles.summariser]\nprompt = "x"\ntools = ["read_file", "browse"]\n',
        'fleet.toml:3: roles.summariser.tools: unknown tool "browse"',
        id="custom-role-with-unknown-tool",
    ),
    pytest.param(
        '[[agents]]\nname = "a"\nrole = "critic"\n'
        'task = """\nA task that mentions\n[[agents]]\nname = "z"\nand a quote \\""" inside.\n"""\n'
        "notes = '''\n[roles.x]\n'''\n",
        'fleet.toml:10: agents[0].notes: unknown key "notes"',
        id="line-after-multi-line-strings-is-right",
    ),
    pytest.param(
        agent_block("a", 'after = ["x"]\n') + agent_block("b", role="nobody"),
        'fleet.toml:5: agents[0].after: unknown agent "x"',
        id="first-error-in-file-order-wins",
    ),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
def test_malformed_plan_message(text: str, expected: str) -> None:
    assert plan_error(text) == expected


def test_error_fields_are_attributes() -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan(THREE_AGENTS.replace('"logs"]', '"zebra"]'), FLEET)
    error = caught.value
    assert (error.path, error.line, error.field, error.message) == (
        FLEET,
        17,
        "agents[2].after",
        'unknown agent "zebra"',
    )


def test_missing_prompt_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("fleet.toml").write_text('[roles.summariser]\nprompt_file = "roles/summariser.md"\n')
    with pytest.raises(PlanError) as caught:
        load_plan(Path("fleet.toml"))
    expected = 'fleet.toml:2: roles.summariser.prompt_file: file not found: "roles/summariser.md"'
    assert str(caught.value) == expected


def test_workdir_that_is_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan('workdir = "missing"\n' + agent_block("a"), tmp_path / "fleet.toml")
    assert caught.value.line == 1
    assert caught.value.field == "workdir"
    assert caught.value.message == f"not a folder: {tmp_path / 'missing'}"


def test_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PlanError, match=r"^nope\.toml: file not found$"):
        load_plan(Path("nope.toml"))


def test_folder_instead_of_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("plans").mkdir()
    with pytest.raises(PlanError, match=r"^plans: is a folder, not a plan file$"):
        load_plan(Path("plans"))


def test_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("fleet.toml").write_bytes(b'name = "x"\n# caf\xe9\n')
    with pytest.raises(PlanError, match=r"^fleet\.toml:2: not UTF-8 text$"):
        load_plan(Path("fleet.toml"))


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("fleet.toml").write_text('name = "x"\n')

    real_open = os.open

    def refuse(path: str | Path, flags: int, *args: int, **kwargs: object) -> int:
        if Path(path).name == "fleet.toml":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(PlanError, match=r"^fleet\.toml: cannot read: Permission denied$"):
        load_plan(Path("fleet.toml"))


def test_absolute_path_below_the_working_directory_is_shown_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleet.toml").write_text("max_parallel = -1\n")
    with pytest.raises(PlanError) as caught:
        load_plan(tmp_path / "fleet.toml")
    assert str(caught.value) == "fleet.toml:1: max_parallel: must be >= 1, got -1"


# ---------------------------------------------------------------------------- valid plans


def test_minimal_plan_defaults() -> None:
    plan = parse_plan(agent_block("solo"), FLEET)
    assert plan.name == "fleet"
    assert (plan.max_parallel, plan.stall_after, plan.loop_repeats, plan.burn_tokens) == (5, 60.0, 3, 20_000)
    assert plan.budget.usd is None and plan.budget.tokens is None
    agent = plan.agent("solo")
    assert (agent.provider, agent.model, agent.max_tokens, agent.after) == ("sim", None, 4096, [])
    assert (agent.loop.times, agent.loop.until_usd) == (1, None)
    assert plan.tools_for(agent) == list(BUILTIN_ROLES["critic"].tools)
    assert plan.model_for(agent) == "claude-sonnet-4-6"


def test_paths_resolve_from_the_plan_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "fleet.toml").write_text('workdir = "../project"\nout = "../results"\n' + agent_block("a"))
    monkeypatch.chdir(tmp_path / "project")
    plan = load_plan(Path("../plans/fleet.toml"))
    assert plan.workdir == tmp_path / "project"
    assert plan.out == tmp_path / "results"
    assert plan.path == tmp_path / "plans" / "fleet.toml"
    assert plan.path.is_absolute() and plan.workdir.is_absolute() and plan.out.is_absolute()


def test_default_paths_are_the_plan_folder_and_its_out(tmp_path: Path) -> None:
    plan = parse_plan(agent_block("a"), tmp_path / "fleet.toml")
    assert (plan.workdir, plan.out) == (tmp_path, tmp_path / "tokenmaxx-out")


def test_full_agent_and_plan_keys() -> None:
    text = """\
name = "talk-deck"
max_parallel = 2
stall_after = 30.5
loop_repeats = 4
burn_tokens = 1000
budget = { usd = 20, tokens = 5_000_000 }

[providers.claude]
kind = "anthropic"
base_url = "http://127.0.0.1:8080"
api_key_env = "MY_KEY"
headers = { "X-Title" = "tokenmaxx" }
max_concurrent = 4

[prices."glm-5.2"]
input = 1.4
output = 4.0
cache_read = 0.3

[[agents]]
name = "charts"
role = "chart-builder"
provider = "claude"
model = "claude-sonnet-4-6"
task = "Chart it."
tools = ["read_file", "list_files", "write_file", "run_command"]
policy = { run_command = "auto", write_file = "ask" }
budget = { usd = 2.0, tokens = 200_000 }
loop = { times = 5, until_usd = 1.5 }
max_tokens = 1024
sim = { stall_at_turn = 2, note = "free-form" }
"""
    plan = parse_plan(text, FLEET)
    assert plan.budget.usd == 20.0 and plan.budget.tokens == 5_000_000
    claude = plan.provider_config("claude")
    assert (claude.kind, claude.key_env, claude.headers, claude.max_concurrent) == (
        "anthropic",
        "MY_KEY",
        {"X-Title": "tokenmaxx"},
        4,
    )
    assert plan.prices["glm-5.2"].cache_read == 0.3 and plan.prices["glm-5.2"].cache_write is None
    agent = plan.agent("charts")
    assert (agent.loop.times, agent.loop.until_usd, agent.max_tokens) == (5, 1.5, 1024)
    assert agent.sim == {"stall_at_turn": 2, "note": "free-form"}
    assert plan.policy_for(agent, "run_command") == "auto"
    assert plan.policy_for(agent, "write_file") == "ask"
    assert plan.policy_for(agent, "read_file") == "auto"


def test_loop_until_usd_alone_is_unbounded_in_times() -> None:
    plan = parse_plan(agent_block("a", "loop = { until_usd = 1.5 }\n"), FLEET)
    assert (plan.agent("a").loop.times, plan.agent("a").loop.until_usd) == (None, 1.5)


def test_default_policies_and_denied_tools_are_not_offered() -> None:
    plan = parse_plan(agent_block("a", 'policy = { run_command = "deny" }\n', role="chart-builder"), FLEET)
    assert plan.policy_for("a", "run_command") == "deny"
    assert plan.tools_for("a") == ["read_file", "list_files", "write_file"]
    other = parse_plan(agent_block("b", role="chart-builder"), FLEET)
    assert [other.policy_for("b", tool) for tool in KNOWN_TOOLS] == ["auto", "auto", "auto", "ask"]
    assert other.policy_for("b", "launch_rockets") == "deny"


def test_provider_kind_names_work_without_a_providers_table() -> None:
    text = agent_block("a", 'provider = "openai"\nmodel = "gpt-5"\n') + agent_block(
        "b", 'provider = "anthropic"\nmodel = "claude-sonnet-4-6"\n'
    )
    plan = parse_plan(text, FLEET)
    assert plan.provider_config("openai") == ProviderConfig(kind="openai")
    assert plan.provider_config("openai").key_env == "OPENAI_API_KEY"
    assert plan.provider_config("anthropic").key_env == "ANTHROPIC_API_KEY"
    assert plan.provider_config("sim").key_env is None
    with pytest.raises(KeyError):
        plan.provider_config("ollama")


def test_provider_named_after_its_kind_needs_no_kind_key() -> None:
    plan = parse_plan('[providers.openai]\nbase_url = "http://127.0.0.1:11434/v1"\n' + agent_block("a"), FLEET)
    assert plan.provider_config("openai").kind == "openai"
    assert plan.provider_config("openai").base_url == "http://127.0.0.1:11434/v1"


def test_sim_provider_options() -> None:
    plan = parse_plan('[providers.fast]\nkind = "sim"\nprice_as = "gpt-5"\nspeed = 3\nseed = 9\n' + agent_block("a"), FLEET)
    fast = plan.provider_config("fast")
    assert (fast.price_as, fast.speed, fast.seed) == ("gpt-5", 3.0, 9)


def test_custom_role_inline() -> None:
    text = '[roles.summariser]\nprompt = "You summarise."\ntools = ["read_file"]\n\n' + agent_block(
        "a", role="summariser"
    )
    plan = parse_plan(text, FLEET)
    role = plan.role("summariser")
    assert (role.name, role.prompt, role.tools) == ("summariser", "You summarise.", ("read_file",))
    assert plan.tools_for("a") == ["read_file"]
    assert plan.system_prompt("a").startswith("You summarise.\n\n## This fleet\n")


def test_custom_role_from_a_file_beside_the_plan(tmp_path: Path) -> None:
    (tmp_path / "roles").mkdir()
    (tmp_path / "roles" / "summariser.md").write_text("You summarise logs.\n")
    (tmp_path / "fleet.toml").write_text(
        '[roles.summariser]\nprompt_file = "roles/summariser.md"\n\n' + agent_block("a", role="summariser")
    )
    plan = load_plan(tmp_path / "fleet.toml")
    assert plan.role("summariser").prompt == "You summarise logs.\n"
    assert plan.role("summariser").tools == ("read_file", "list_files", "write_file")


def test_custom_role_overrides_a_builtin() -> None:
    plan = parse_plan('[roles.critic]\nprompt = "Be kind."\n\n' + agent_block("a"), FLEET)
    assert plan.role("critic").prompt == "Be kind."
    assert plan.role("deck-builder") == BUILTIN_ROLES["deck-builder"]
    with pytest.raises(UnknownRole):
        plan.role("nobody")


def test_system_prompt_names_agent_inputs_and_asked_tools() -> None:
    plan = parse_plan(THREE_AGENTS, FLEET)
    prompt = plan.system_prompt("deck")
    assert prompt.startswith(BUILTIN_ROLES["deck-builder"].prompt.rstrip())
    assert 'You are the agent "deck" in the fleet "talk-deck".' in prompt
    assert "You build on the outputs of: charts (`out:charts/`), logs (`out:logs/`)." in prompt
    assert "approval" not in prompt
    assert "Calls of run_command wait for a person's approval" in plan.system_prompt("charts")


def test_topological_order_and_dependants() -> None:
    text = (
        agent_block("critique", 'after = ["deck"]\n')
        + agent_block("deck", 'after = ["charts", "logs"]\n')
        + agent_block("charts")
        + agent_block("logs")
        + agent_block("extra", 'after = ["logs"]\n')
    )
    plan = parse_plan(text, FLEET)
    assert plan.topological_order() == ["charts", "logs", "deck", "critique", "extra"]
    assert plan.dependants("logs") == ["deck", "extra"]
    assert plan.dependants("logs", transitive=True) == ["critique", "deck", "extra"]
    assert plan.dependants("critique") == []


def test_agent_lookup_fails_loudly() -> None:
    with pytest.raises(KeyError, match="no agent"):
        parse_plan(THREE_AGENTS, FLEET).agent("nobody")


def test_plan_is_frozen() -> None:
    plan = parse_plan(THREE_AGENTS, FLEET)
    with pytest.raises(ValueError, match="frozen"):
        plan.max_parallel = 9  # type: ignore[misc]
    assert isinstance(plan, Plan)


def test_equal_text_gives_equal_agents_for_reload_diffs() -> None:
    first = parse_plan(THREE_AGENTS, FLEET)
    changed = parse_plan(THREE_AGENTS.replace("Build the deck.", "Build a better deck."), FLEET)
    assert first.agent("charts") == changed.agent("charts")
    assert first.agent("deck") != changed.agent("deck")


# ---------------------------------------------------------------------------- the sample


def test_sample_plan_loads_and_runs_on_the_sim(tmp_path: Path) -> None:
    (tmp_path / "fleet.toml").write_text(sample_plan_text(Site(claims=SAMPLE_NOTES)))
    plan = load_plan(tmp_path / "fleet.toml")
    assert [agent.role for agent in plan.agents] == list(BUILTIN_ROLES)
    assert all(plan.provider_config(agent.provider).kind == "sim" for agent in plan.agents)
    assert plan.agent("deck").after == ["charts", "logs", "factcheck"]
    assert plan.agent("critique").after == ["deck"]
    assert plan.topological_order() == ["charts", "logs", "factcheck", "deck", "critique"]


def test_the_sample_plan_without_claims_has_no_fact_checker(tmp_path: Path) -> None:
    (tmp_path / "fleet.toml").write_text(sample_plan_text(Site()))
    plan = load_plan(tmp_path / "fleet.toml")
    assert [agent.name for agent in plan.agents] == ["charts", "logs", "deck", "critique"]
    assert plan.agent("deck").after == ["charts", "logs"] and plan.agent("logs").history


def test_sample_plan_commented_examples_load_when_uncommented(tmp_path: Path) -> None:
    lines = sample_plan_text().splitlines()
    uncommented = [
        line[2:] if line.startswith("# ") and ("=" in line[:40] or line.startswith("# [")) else line for line in lines
    ]
    (tmp_path / "roles").mkdir()
    (tmp_path / "roles" / "summariser.md").write_text("You summarise.\n")
    plan = parse_plan("\n".join(uncommented), tmp_path / "fleet.toml")
    assert set(plan.providers) == {"claude", "gpt", "ollama", "fast-sim"}
    assert plan.agent("critique").loop.times == 3


def test_write_sample_plan_refuses_to_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("fleet.toml").write_text("mine")
    with pytest.raises(FileExistsError, match=r"^fleet\.toml already exists; use --force to overwrite it$"):
        write_sample_plan(Path("fleet.toml"))
    assert Path("fleet.toml").read_text() == "mine"
    written = write_sample_plan(Path("fleet.toml"), force=True)
    assert Path("fleet.toml").read_text() == sample_plan_text(written.site)
