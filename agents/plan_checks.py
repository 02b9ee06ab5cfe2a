"""The checks a plan must pass beyond its shape: names, references, files and cycles."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenmaxx.agents.plan_errors import bad_name, did_you_mean
from tokenmaxx.agents.plan_lines import KeyPath
from tokenmaxx.agents.plan_models import (
    AGENT_BASE,
    ENV_NAME_PATTERN,
    KNOWN_TOOLS,
    NAME_PATTERN,
    PROVIDER_KINDS,
    SIM_ONLY_KEYS,
    DEFAULT_KEY_ENV,
    AgentSpec,
    PlanFile,
    RoleSpec,
)
from tokenmaxx.agents.plan_harness import harness_problems
from tokenmaxx.agents.roles import BUILTIN_ROLES
from tokenmaxx.agents.small_files import SmallFileError, read_small_file

_ENDPOINT_ONLY_KEYS = ("base_url", "api_key_env", "headers")
PRICE_FIX = 'add [prices."MODEL"] with input and output (USD per million tokens), or price_as = "a-priced-model"'


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a plan: the field it concerns, and where to point (`at`, else the field)."""

    field: KeyPath
    message: str
    at: KeyPath | None = None


def plan_problems(plan: PlanFile) -> list[Problem]:
    """Return every semantic problem of a plan whose shape already validated."""
    problems = [
        *_provider_problems(plan),
        *_price_problems(plan),
        *_role_problems(plan),
        *_agent_problems(plan),
        *_env_pass_problems(plan),
    ]
    if not problems:
        problems.extend(_cycle_problems(plan.agents))
    if not problems:
        problems.extend(_budget_problems(plan))
    return problems


def unpriced_agents(plan: PlanFile, agents: Sequence[AgentSpec] | None = None) -> list[tuple[str, str]]:
    """The (agent, model) pairs whose replies have no known price: neither the plan's nor genai-prices'."""
    from tokenmaxx.agents.pricing import is_priced

    own = [model for model, price in plan.prices.items() if price.price_as is None]
    checked = plan.agents if agents is None else agents
    pairs = [(agent, plan.priced_as(agent, plan.sim_price_as(agent))) for agent in checked]
    return [(agent.name, model) for agent, model in pairs if not is_priced(model, _price_provider(plan, agent), own)]


def _price_provider(plan: PlanFile, agent: AgentSpec) -> str | None:
    """The genai-prices provider id an agent's provider prices by (as the providers themselves decide it)."""
    from tokenmaxx.agents.pricing import provider_id_for_url

    config = plan.providers.get(agent.provider)
    kind = config.kind if config is not None else agent.provider
    if kind == "openai":
        return provider_id_for_url(config.base_url if config is not None else None, "openai")
    return "anthropic" if kind == "anthropic" else None


def _price_problems(plan: PlanFile) -> Iterator[Problem]:
    for model, price in plan.prices.items():
        where = ("prices", model)
        rates = [price.input, price.output, price.cache_read, price.cache_write]
        if price.price_as is not None and any(rate is not None for rate in rates):
            yield Problem(where, "give either price_as or prices (input, output, ...), not both")
        elif price.price_as is None and (price.input is None or price.output is None):
            missing = "input" if price.input is None else "output"
            yield Problem((*where, missing), "missing required key", at=where)
        elif price.price_as is not None and plan.alias_of(price.price_as) != price.price_as:
            yield Problem((*where, "price_as"), f'"{price.price_as}" is itself an alias: name a priced model')


def _budget_problems(plan: PlanFile) -> Iterator[Problem]:
    budgeted = [agent for agent in plan.agents if agent.budget.usd is not None]
    index = {agent.name: position for position, agent in enumerate(plan.agents)}
    for name, model in unpriced_agents(plan, budgeted):
        message = f'a USD budget needs a price, and none is known for model "{model}": {PRICE_FIX.replace("MODEL", model)}'
        yield Problem(("agents", index[name], "budget"), message)


def read_role_prompts(plan: PlanFile, folder: Path) -> tuple[dict[str, RoleSpec], list[Problem]]:
    """Fill in the prompt of each role given by `prompt_file`, read relative to `folder`."""
    roles: dict[str, RoleSpec] = {}
    problems = []
    for name, spec in plan.roles.items():
        if spec.prompt_file is None or spec.prompt is not None:
            roles[name] = spec
            continue
        where = ("roles", name, "prompt_file")
        try:
            text = read_small_file((folder / spec.prompt_file).expanduser()).decode("utf-8")
        except SmallFileError as exc:
            quoted = f'"{spec.prompt_file}"'
            message = f"file not found: {quoted}" if exc.missing else f"cannot read {quoted}: {exc.reason}"
            problems.append(Problem(where, message))
        except UnicodeDecodeError:
            problems.append(Problem(where, f'cannot read "{spec.prompt_file}": not UTF-8 text'))
        else:
            roles[name] = spec.model_copy(update={"prompt": text})
    return roles, problems


def _provider_problems(plan: PlanFile) -> Iterator[Problem]:
    for name, config in plan.providers.items():
        given = config.model_fields_set
        if config.kind != "sim":
            for key in sorted(given & set(SIM_ONLY_KEYS), key=SIM_ONLY_KEYS.index):
                yield Problem(("providers", name, key), f'only for kind "sim", not "{config.kind}"')
        else:
            for key in sorted(given & set(_ENDPOINT_ONLY_KEYS), key=_ENDPOINT_ONLY_KEYS.index):
                yield Problem(("providers", name, key), 'not used by kind "sim"')


def _role_problems(plan: PlanFile) -> Iterator[Problem]:
    for name, spec in plan.roles.items():
        where = ("roles", name)
        if not re.fullmatch(NAME_PATTERN, name):
            yield Problem(where, bad_name(name))
        if spec.prompt is not None and spec.prompt_file is not None:
            yield Problem(where, "give either prompt or prompt_file, not both")
        elif spec.prompt is None and spec.prompt_file is None:
            yield Problem(where, "needs a prompt or a prompt_file")
        elif spec.prompt is not None and not spec.prompt.strip():
            yield Problem((*where, "prompt"), "must not be empty")
        yield from _tool_list_problems((*where, "tools"), spec.tools)


def _agent_problems(plan: PlanFile) -> Iterator[Problem]:
    first_index: dict[str, int] = {}
    roles = [*BUILTIN_ROLES, *plan.roles]
    providers = [*plan.providers, *(kind for kind in PROVIDER_KINDS if kind not in plan.providers)]
    names = [agent.name for agent in plan.agents]
    for index, agent in enumerate(plan.agents):
        where = ("agents", index)
        if agent.name in first_index:
            yield Problem(
                (*where, "name"), f'duplicate agent name "{agent.name}" (also agents[{first_index[agent.name]}])'
            )
        first_index.setdefault(agent.name, index)
        if agent.role not in roles:
            yield Problem((*where, "role"), f'unknown role "{agent.role}"' + did_you_mean(agent.role, roles))
        if agent.provider not in providers:
            message = f'unknown provider "{agent.provider}"' + did_you_mean(agent.provider, providers)
            yield Problem((*where, "provider"), message)
        elif agent.model is None and _kind(plan, agent.provider) != "sim":
            message = f'required for provider "{agent.provider}" (kind "{_kind(plan, agent.provider)}")'
            yield Problem((*where, "model"), message, at=where)
        if agent.tools is not None:
            yield from _tool_list_problems((*where, "tools"), agent.tools)
        for tool in agent.policy:
            if tool not in KNOWN_TOOLS:
                yield Problem((*where, "policy", tool), f'unknown tool "{tool}"' + did_you_mean(tool, KNOWN_TOOLS))
        yield from _after_problems(where, agent, names)
        yield from _base_problems(where, agent)
        if _kind(plan, agent.provider) == "sim":
            yield from _sim_problems(where, agent)
        if agent.harness is not None:
            yield from harness_problems(where, agent, _kind(plan, agent.provider))


def _sim_problems(where: KeyPath, agent: AgentSpec) -> Iterator[Problem]:
    from tokenmaxx.agents.providers.sim import SimOptions

    try:
        SimOptions.from_dict(agent.sim)
    except ValueError as error:
        yield Problem(where, str(error), at=(*where, "sim"))


def _env_pass_problems(plan: PlanFile) -> Iterator[Problem]:
    keys = {config.key_env for config in plan.providers.values()} | set(DEFAULT_KEY_ENV.values())
    lists = [(("env_pass",), plan.env_pass), (("notify", "env_pass"), plan.notify.env_pass)]
    lists += [(("agents", index, "env_pass"), agent.env_pass) for index, agent in enumerate(plan.agents)]
    for where, names in lists:
        for position, name in enumerate(names):
            problem = _env_pass_problem(name, keys)
            if problem:
                yield Problem(where, problem, at=(*where, position))


def _env_pass_problem(name: str, keys: set[str | None]) -> str | None:
    """Why a variable may not be passed to commands: a bad name, tokenmaxx's own, HOME, or a provider key."""
    if not re.fullmatch(ENV_NAME_PATTERN, name):
        return f'"{name}" is not an environment variable name'
    if name.upper().startswith("TOKENMAXX_") or name == "HOME":
        return f'"{name}" is set by tokenmaxx itself and cannot be passed'
    if name in keys:
        return f'"{name}" holds a provider\'s API key; commands never get it'
    return None


def _kind(plan: PlanFile, provider: str) -> str:
    config = plan.providers.get(provider)
    return config.kind if config is not None else provider


def _tool_list_problems(where: KeyPath, tools: Sequence[str]) -> Iterator[Problem]:
    for position, tool in enumerate(tools):
        if tool not in KNOWN_TOOLS:
            message = f'unknown tool "{tool}"' + did_you_mean(tool, KNOWN_TOOLS)
            yield Problem(where, message, at=(*where, position))
        elif tool in tools[:position]:
            yield Problem(where, f'tool "{tool}" is listed twice', at=(*where, position))


def _after_problems(where: KeyPath, agent: AgentSpec, names: Sequence[str]) -> Iterator[Problem]:
    field = (*where, "after")
    for position, dependency in enumerate(agent.after):
        at = (*field, position)
        if dependency == agent.name:
            yield Problem(field, f'"{agent.name}" cannot come after itself', at=at)
        elif dependency not in names:
            yield Problem(field, f'unknown agent "{dependency}"' + did_you_mean(dependency, names), at=at)
        elif dependency in agent.after[:position]:
            yield Problem(field, f'agent "{dependency}" is listed twice', at=at)


def _base_problems(where: KeyPath, agent: AgentSpec) -> Iterator[Problem]:
    """`base = "agent:<name>"` must name an agent this one comes after, whose branch is then committed."""
    if agent.base is None or not agent.base.startswith(AGENT_BASE):
        return
    upstream = agent.base[len(AGENT_BASE) :]
    if upstream not in agent.after:
        yield Problem((*where, "base"), f'"{agent.base}" names an agent not in after: add "{upstream}" to after')


def _cycle_problems(agents: Sequence[AgentSpec]) -> Iterator[Problem]:
    cycle = find_cycle(agents)
    if cycle:
        index = next(position for position, agent in enumerate(agents) if agent.name == cycle[0])
        yield Problem(("agents", index, "after"), "dependency cycle: " + " -> ".join(cycle))


def find_cycle(agents: Sequence[AgentSpec]) -> list[str]:
    """Return one cycle of `after` links (first and last name equal), starting at its earliest agent, or []."""
    order = {agent.name: position for position, agent in enumerate(agents)}
    after = {agent.name: [dep for dep in agent.after if dep in order] for agent in agents}
    finished: set[str] = set()
    for start in order:
        cycle = _cycle_from(start, after, finished)
        if cycle:
            first = min(range(len(cycle)), key=lambda position: order[cycle[position]])
            ring = cycle[first:] + cycle[:first]
            return [*ring, ring[0]]
    return []


def _cycle_from(start: str, after: dict[str, list[str]], finished: set[str]) -> list[str]:
    """Walk `after` links depth first from `start`; return the names on a cycle found, else []."""
    stack: list[str] = [start]
    iterators = [iter(after[start])]
    while iterators:
        dependency = next(iterators[-1], None)
        if dependency is None:
            finished.add(stack.pop())
            iterators.pop()
        elif dependency in stack:
            return stack[stack.index(dependency) :]
        elif dependency not in finished:
            stack.append(dependency)
            iterators.append(iter(after[dependency]))
    return []
