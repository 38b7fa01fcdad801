"""`python -m tests`: the whole suite in two lanes at once, the unit tests beside the
integration tests. The integration tests spend half their time waiting on services (broker
restarts, drains, retries' backoff), and the unit tests need none of them: side by side, the
suite takes about the integration tests' time. Arguments go to both pytest runs; each lane's
exit status counts (a failure in either fails the run)."""

from __future__ import annotations

import subprocess
import sys
import tempfile


def main(arguments: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest", *arguments]
    with tempfile.TemporaryFile() as unit_output:
        # The unit lane's report is shown whole when it ends, not mixed into the other one.
        unit = subprocess.Popen(
            [*pytest, "tests/unit"], stdout=unit_output, stderr=subprocess.STDOUT
        )
        integration = subprocess.run([*pytest, "tests/integration"], check=False)
        unit.wait()
        unit_output.seek(0)
        sys.stdout.write("\n--- the unit tests (run beside the integration tests) ---\n")
        sys.stdout.flush()
        sys.stdout.buffer.write(unit_output.read())
    failed = [code for code in (unit.returncode, integration.returncode) if code]
    return failed[0] if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
