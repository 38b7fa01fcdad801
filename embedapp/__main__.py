"""`python -m embedapp` is the `embedapp` command."""

from embedapp.cli.main import app

app(prog_name="embedapp")
