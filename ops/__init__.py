"""Operations commands for a deployed stack (docs/runbook.md): run as `python -m ops.<name>`."""
