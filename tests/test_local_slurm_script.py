"""scripts/local_slurm.sh's own errors: one line each, nothing started (no SLURM needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "local_slurm.sh"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False)


def test_stopping_a_folder_without_a_cluster_names_it(tmp_path):
    done = _run("stop", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {tmp_path} holds no local cluster (no munge/munge.key)"


def test_a_wrong_command_prints_the_usage():
    for args in ((), ("restart",), ("stop",)):
        done = _run(*args)
        assert done.returncode == 2 and done.stderr.startswith("usage: "), args
