"""tokenmaxx's looks: four built-in Textual themes, our own theme variables, and user themes from TOML files."""

from tokenmaxx.themes.builtin import BUILTIN_THEMES, DEFAULT_THEME, THEME_VARIABLES
from tokenmaxx.themes.user import ThemeFileError, UserThemes, load_theme_file, load_user_themes

__all__ = [
    "BUILTIN_THEMES",
    "DEFAULT_THEME",
    "THEME_VARIABLES",
    "ThemeFileError",
    "UserThemes",
    "load_theme_file",
    "load_user_themes",
]
