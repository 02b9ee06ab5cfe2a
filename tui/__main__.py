"""`python -m tui` is `tokenmaxx`."""

from tui.cli import main

main()
