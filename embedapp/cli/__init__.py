"""The `embedapp` command: serve (supervision and preflight checks), each part alone, the
bulk ingest client, dead-letter commands, and the bench commands."""
