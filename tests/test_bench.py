"""The benchmark runs end to end (a few seconds; no timing is asserted, timings vary by machine)."""
import json
import subprocess
import sys


def test_bench_runs_and_ends_with_json():
    # A failure means `python -m lecture_lib.bench` crashes, the three implementations disagree
    # on the first loss (it raises), or its last line is not the JSON summary the book reads.
    result = subprocess.run([sys.executable, "-m", "lecture_lib.bench", "--steps", "2", "--batch", "256"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) == {"engine_vs_torch", "numpy_vs_torch", "engine_ms", "torch_ms", "numpy_ms",
                            "load_train_ms"}
    assert all(v > 0 for v in summary.values())
    assert "(a) autodiff engine" in result.stdout and "GFLOP/s" in result.stdout
