"""The benchmark scripts run end to end on a tiny input (no timing is asserted anywhere)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run_benchmarks(results: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--results", str(results), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_benchmarks_run_on_a_tiny_input(tmp_path: Path) -> None:
    done = _run_benchmarks(tmp_path, "--skip", "http,latency")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("inprocess", "agents", "redis", "memory", "throttle", "summary"):
        assert (tmp_path / f"{name}.json").exists(), name
    inprocess = json.loads((tmp_path / "inprocess.json").read_text())
    assert set(inprocess["results"]) == {"wsgi", "asgi", "fastapi", "flask"}
    assert set(inprocess["results"]["wsgi"]) == {"bare", "wrapped", "offload", "naive"}
    # every peer ran (the bench extra installs them), or says why not
    ran = {name for variants in inprocess["results"].values() for name in variants}
    assert ran | {key.partition("/")[2] for key in inprocess["skipped"]} >= {
        "prometheus", "starlette_exporter", "opentelemetry", "flask_exporter"
    }  # fmt: skip
    throttle = json.loads((tmp_path / "throttle.json").read_text())
    assert set(throttle["versus"]) >= {"ours", "limits"}
    redis_load = json.loads((tmp_path / "redis.json").read_text())
    assert redis_load["results"][0]["commands"] > 0  # the flusher really wrote
    assert "## summary" in done.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")
def test_http_benchmarks_on_a_tiny_input(tmp_path: Path) -> None:
    done = _run_benchmarks(tmp_path, "--only", "http,latency")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    http = json.loads((tmp_path / "http.json").read_text())
    for server in ("uvicorn", "gunicorn"):
        variants = http["results"][server]
        ran = ("bare", "wrapped", "offload", "naive")
        assert all(variants[v]["requests_per_s"] > 0 for v in ran)
        assert variants["wrapped"]["non_2xx"] == variants["offload"]["non_2xx"] == 0
        assert variants["wrapped"]["redis_commands"] > 0  # counted, and written at shutdown
    latency = json.loads((tmp_path / "latency.json").read_text())
    rates = latency["results"]["uvicorn"]["rates"]
    for variants in rates.values():
        for variant in ("bare", "wrapped"):
            assert variants[variant]["errors"] == 0
            assert variants[variant]["non_2xx"] == 0
            assert variants[variant]["probe"]["thread_lag"]["count"] > 0  # the probe ticked


def test_wrk_script_rotates_the_stream() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import traffic
    finally:
        sys.path.remove(str(ROOT))
    script = traffic.wrk_script(50)
    assert script.count("Mozilla/5.0") > 10
    assert "request = function()" in script
    requests = list(traffic.stream(200, distinct_paths=20))
    assert requests == list(traffic.stream(200, distinct_paths=20))  # reproducible
    assert len({r.path for r in requests}) > 5
    assert len(set(traffic.distinct_agents(300))) == 300
