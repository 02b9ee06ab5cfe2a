"""Built-in roles: shipped Markdown prompts with their default tools, and custom roles."""

from __future__ import annotations

import pytest

from tokenmaxx.agents.plan import KNOWN_TOOLS
from tokenmaxx.agents.roles import BUILTIN_ROLE_NAMES, BUILTIN_ROLES, Role, RoleFileError, UnknownRole, get_role, parse_role

DELIVERABLES = {
    "chart-builder": ["loc.svg", "loc.csv"],
    "log-analyst": ["failures.csv", "failures.svg"],
    "fact-checker": ["report.md"],
    "deck-builder": ["index.html"],
    "critic": ["critique.md"],
}


def test_the_five_builtin_roles_load() -> None:
    assert list(BUILTIN_ROLES) == list(BUILTIN_ROLE_NAMES)
    assert set(BUILTIN_ROLES) == set(DELIVERABLES)


@pytest.mark.parametrize("name", BUILTIN_ROLE_NAMES)
def test_builtin_role_prompt_says_what_to_produce_and_where(name: str) -> None:
    role = BUILTIN_ROLES[name]
    assert role.name == name
    assert not role.prompt.startswith("---")
    for deliverable in DELIVERABLES[name]:
        assert f"`{deliverable}`" in role.prompt
    assert "Read paths are relative to the project root" in role.prompt
    assert "`out:" in role.prompt
    assert "`write_file` paths are relative to your own out folder" in role.prompt
    assert len(role.prompt.split()) < 450


@pytest.mark.parametrize("name", BUILTIN_ROLE_NAMES)
def test_builtin_role_tools_are_known_and_include_reading_and_writing(name: str) -> None:
    tools = BUILTIN_ROLES[name].tools
    assert set(tools) <= set(KNOWN_TOOLS)
    assert {"read_file", "list_files", "write_file"} <= set(tools)


def test_only_data_gathering_roles_run_commands() -> None:
    runners = {name for name, role in BUILTIN_ROLES.items() if "run_command" in role.tools}
    assert runners == {"chart-builder", "log-analyst"}


def test_get_role_prefers_the_plans_own() -> None:
    mine = Role("critic", "Be kind.", ("read_file",))
    assert get_role("critic", {"critic": mine}) is mine
    assert get_role("critic") is BUILTIN_ROLES["critic"]
    assert get_role("critic", {}) is BUILTIN_ROLES["critic"]


def test_get_role_unknown() -> None:
    with pytest.raises(UnknownRole) as caught:
        get_role("poet", {"critic": BUILTIN_ROLES["critic"]})
    assert str(caught.value) == 'unknown role "poet"'
    assert isinstance(caught.value, KeyError)


def test_parse_role_reads_front_matter() -> None:
    role = parse_role("x", "---\ntools: read_file, write_file\n---\n\nDo the thing.\n\n")
    assert role == Role("x", "Do the thing.\n", ("read_file", "write_file"))


def test_parse_role_empty_tools_line() -> None:
    assert parse_role("x", "---\ntools:\n---\nThink.\n").tools == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Do the thing.\n", "role x: the file must open with a --- front-matter block"),
        ("---\ntools: read_file\nDo the thing.\n", "role x: the file must open with a --- front-matter block"),
        ("---\nmodel: sim\n---\nDo it.\n", "role x: the front matter has no tools line"),
        ("---\ntools read_file\n---\nDo it.\n", "role x: front-matter line 'tools read_file' is not `key: value`"),
    ],
)
def test_parse_role_rejects_malformed_files(text: str, message: str) -> None:
    with pytest.raises(RoleFileError) as caught:
        parse_role("x", text)
    assert str(caught.value) == message
