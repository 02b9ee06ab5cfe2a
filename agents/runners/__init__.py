"""Agent runners: tokenmaxx's own loop, and the coding harnesses it drives (Claude Code, Codex)."""
