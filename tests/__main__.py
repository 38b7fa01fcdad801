"""`python -m tests`: the whole suite in two lanes at once. The integration tests spend half
their time waiting on services (broker restarts, drains, retries' backoff); beside them run
the tests that share nothing with them: the unit tests, and the quorum-cluster test (a
RabbitMQ cluster of its own, its own Redis database). Arguments go to both pytest runs; each
lane's exit status counts (a failure in either fails the run)."""

from __future__ import annotations

import subprocess
import sys
import tempfile

# Tests that share no broker, vhost or Redis database with the other integration tests.
APART = ["tests/unit", "tests/integration/test_quorum_cluster.py"]


def main(arguments: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest", *arguments]
    with tempfile.TemporaryFile() as apart_output:
        # This lane's report is shown whole when it ends, not mixed into the other one.
        apart = subprocess.Popen([*pytest, *APART], stdout=apart_output, stderr=subprocess.STDOUT)
        ignored = [f"--ignore={path}" for path in APART[1:]]
        integration = subprocess.run([*pytest, "tests/integration", *ignored], check=False)
        apart.wait()
        apart_output.seek(0)
        sys.stdout.write(f"\n--- {' '.join(APART)} (run beside the rest) ---\n")
        sys.stdout.flush()
        sys.stdout.buffer.write(apart_output.read())
    failed = [code for code in (apart.returncode, integration.returncode) if code]
    return failed[0] if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
