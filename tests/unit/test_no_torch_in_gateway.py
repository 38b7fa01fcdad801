import subprocess
import sys


def test_the_gateway_never_imports_torch() -> None:
    # A fresh interpreter: this test process may have imported torch for other tests.
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from embedapp.gateway.app import create_app\n"
        "with TestClient(create_app()) as client:\n"
        "    client.get('/health')\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers')"
        " if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
