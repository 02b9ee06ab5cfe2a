"""The built-in themes and the loader of user themes: good files load, broken ones are named and skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.color import Color

from tokenmaxx.themes import BUILTIN_THEMES, DEFAULT_THEME, THEME_VARIABLES, ThemeFileError, load_theme_file, load_user_themes

GOOD = """
name = "sunset"
primary = "#ff8800"
dark = false

[variables]
agent-stalled = "#aa00aa"
"""


def test_four_built_in_themes_with_a_dark_default_a_light_and_a_high_contrast_one() -> None:
    names = [t.name for t in BUILTIN_THEMES]
    assert names[0] == DEFAULT_THEME and len(set(names)) >= 4
    assert {"tokenmaxx-light", "tokenmaxx-contrast"} <= set(names)
    assert not next(t for t in BUILTIN_THEMES if t.name == "tokenmaxx-light").dark


@pytest.mark.parametrize("theme", BUILTIN_THEMES, ids=lambda t: t.name)
def test_every_built_in_theme_sets_every_variable_of_ours_to_a_colour(theme) -> None:  # type: ignore[no-untyped-def]
    assert set(theme.variables) == set(THEME_VARIABLES)
    for value in theme.variables.values():
        Color.parse(value)


def test_a_user_theme_file_becomes_a_theme_with_our_variables(tmp_path: Path) -> None:
    (tmp_path / "sunset.toml").write_text(GOOD)
    theme = load_theme_file(tmp_path / "sunset.toml")
    assert (theme.name, theme.primary, theme.dark) == ("sunset", "#ff8800", False)
    assert theme.variables["agent-stalled"] == "#aa00aa"
    assert theme.variables["cost-unknown"] == THEME_VARIABLES["cost-unknown"]


def test_the_file_name_names_a_theme_that_does_not_name_itself(tmp_path: Path) -> None:
    (tmp_path / "plain.toml").write_text('primary = "red"\n')
    assert load_theme_file(tmp_path / "plain.toml").name == "plain"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('primary = "#ff0000', "not valid TOML"),
        ('primary = "blu"\n', "primary: 'blu' is not a colour"),
        ('secondary = "#ffffff"\n', "primary: Field required"),
        ('primary = "red"\ncolour = "blue"\n', "colour: unknown field"),
        ('primary = "red"\n[variables]\nagent-stalld = "red"\n', "unknown variable 'agent-stalld'"),
        ('primary = "red"\n[variables]\nagent-stalled = "nope"\n', "'nope' is not a colour"),
    ],
)
def test_a_broken_theme_file_is_named_with_the_field_at_fault(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ThemeFileError) as raised:
        load_theme_file(path)
    assert str(raised.value).startswith(f"{path}: ") and says in str(raised.value)


def test_a_folder_of_themes_loads_the_good_and_reports_the_broken(tmp_path: Path) -> None:
    (tmp_path / "a-good.toml").write_text(GOOD)
    (tmp_path / "b-broken.toml").write_text("primary = ")
    (tmp_path / "notes.txt").write_text("not a theme")
    loaded = load_user_themes(tmp_path)
    assert [t.name for t in loaded.themes] == ["sunset"]
    assert [e.path.name for e in loaded.errors] == ["b-broken.toml"]


def test_a_missing_themes_folder_is_no_themes(tmp_path: Path) -> None:
    assert load_user_themes(tmp_path / "nowhere").themes == ()
