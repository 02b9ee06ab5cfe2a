"""`python -m tokenmaxx.tui` is `tokenmaxx`."""

from tokenmaxx.tui.cli import main

main()
