"""`python -m embedapp` is the `embedapp` command."""

from embedapp.cli import app

app(prog_name="embedapp")
