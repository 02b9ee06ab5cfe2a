"""Standalone scripts a simulated agent writes into its out folder and runs with python3."""
