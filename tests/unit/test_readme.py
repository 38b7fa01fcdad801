import re

from embedapp.settings import Settings
from tests.readme import README, block_after


def test_every_setting_is_documented_and_nothing_else() -> None:
    documented = set(re.findall(r"`(EMBEDAPP_[A-Z0-9_]+)`", README.read_text()))
    expected = {f"EMBEDAPP_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set()
    assert documented - expected == set()


def test_the_commands_install_and_run() -> None:
    assert block_after("serve-command").strip().endswith("embedapp serve")
    assert block_after("test-command").strip().endswith(".venv/bin/python -m tests")
