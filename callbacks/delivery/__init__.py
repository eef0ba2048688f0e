"""The delivery engine: what a delivery worker runs. Its modules import only downward
(import-linter contracts in pyproject.toml; docs/architecture.md lists them)."""
