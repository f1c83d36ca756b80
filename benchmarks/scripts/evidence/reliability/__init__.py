"""Evidence for docs/reliability.md."""
