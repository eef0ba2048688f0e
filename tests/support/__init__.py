"""Helpers the test modules share: data tables, builders and checks (fixtures live in
conftest.py)."""
