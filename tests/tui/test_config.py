"""The settings file: defaults, round trip, the env override, and errors that name the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenmaxx.themes import DEFAULT_THEME
from tokenmaxx.tui.config import CONFIG_FILE, ConfigError, config_dir, load_config, save_config


def test_no_file_means_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.theme == DEFAULT_THEME and config.settings.fps == 10 and config.themes_dir == tmp_path / "themes"


def test_the_config_dir_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENMAXX_CONFIG_DIR", str(tmp_path / "cfg"))
    assert config_dir() == tmp_path / "cfg" and load_config().directory == tmp_path / "cfg"


def test_a_saved_theme_is_read_back(tmp_path: Path) -> None:
    written = save_config(load_config(tmp_path / "new").with_theme('odd "name"'))
    assert written == tmp_path / "new" / CONFIG_FILE
    assert load_config(tmp_path / "new").theme == 'odd "name"'


@pytest.mark.parametrize(
    ("text", "says"),
    [("theme = ", "not valid TOML"), ("fps = 0\n", "fps: Input should be greater than or equal to 1"), ("colour = 1\n", "colour: unknown setting")],
)
def test_a_bad_config_names_the_file_and_field(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / CONFIG_FILE).write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert str(raised.value).startswith(str(tmp_path / CONFIG_FILE)) and says in str(raised.value)


def test_the_notify_table_is_read_and_kept_when_the_theme_is_saved(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text('theme = "x"\n\n[notify]\ndesktop = false\nkinds = ["stalled", "failed"]\ncommand = "ntfy \\"a\\""\n')
    config = load_config(tmp_path)
    assert config.settings.notify.kinds == ["stalled", "failed"] and config.settings.notify.command == 'ntfy "a"'
    save_config(config.with_theme("y"))
    assert load_config(tmp_path).settings.notify == config.settings.notify


def test_an_unknown_notice_kind_names_its_field(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text('[notify]\nkinds = ["lunch"]\n')
    with pytest.raises(ConfigError, match="notify.kinds.0"):
        load_config(tmp_path)
