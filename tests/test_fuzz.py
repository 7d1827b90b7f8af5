"""Bounded fuzzing of the ingest path: tests/fuzz/fuzz_ingest.py (issue 10).

The coverage-guided run needs atheris (extra ``test``; skipped without it); the
replay of fixed pseudo-random inputs runs everywhere.  Both are deterministic:
fixed seeds, a fixed number of executions.
"""

from __future__ import annotations

import importlib.util
import random
import re
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest

HARNESS = Path(__file__).resolve().parent / "fuzz" / "fuzz_ingest.py"
RUNS = 1000  # about 15 s on one core, after a few seconds of start-up


#: Inputs the fuzzer found that crashed the library once (fixed since), replayed
#: by :func:`test_replay_fixed_inputs`.
REGRESSIONS = {
    # the second-parent choice, re-run after a cycle was set aside, left an event
    # whose only parent was itself: conversations looped forever on the self-loop
    "selfloop-after-cycle": bytes.fromhex(
        "ffffffffffffffffffffffffffff7fffffffffffffffffffffffffffffffffffffffffffffff"
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
        "17a7bd2965b24568fc48aa4e6af40d4fbe91e25b6a6a04" + "01" * 118 +
        "ddc4ffcd5da43264ba6738f1016742286c1dd22206db10ff9dbbb1d01c3221fbe2b152000000"
        "000000c9b8ee383597439d813c515f09322e6729a2ef47ad53e587c4c81d2b60ca430ca2db5c"),
}


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_ingest", HARNESS)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _seeds(folder: Path, n: int, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    out = [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(8, 300))) for _ in range(n)]
    folder.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(out):
        (folder / f"seed-{i:03d}").write_bytes(data)
    return out


def test_replay_fixed_inputs(tmp_path: Path) -> None:
    """Pseudo-random inputs through the harness, in process: no crash."""
    fuzz = _harness()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for data in [*REGRESSIONS.values(), *_seeds(tmp_path / "seeds", 150, seed=10)]:
            fuzz.run_one(data)


def test_coverage_guided_run(tmp_path: Path) -> None:
    """``RUNS`` executions of atheris from a fixed seed: no crash, no artifact."""
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    _seeds(corpus, 32, seed=1)
    art = tmp_path / "artifacts"
    art.mkdir()
    cmd = [sys.executable, str(HARNESS), f"-atheris_runs={RUNS}", "-seed=1", "-max_len=1024",
           "-len_control=0", "-max_total_time=45", "-timeout=20", f"-artifact_prefix={art}/",
           str(corpus)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False,
                         cwd=tmp_path)
    tail = "\n".join(res.stderr.splitlines()[-40:])
    assert res.returncode == 0, tail
    assert not list(art.iterdir()), tail
    done = re.search(r"Done (\d+) (?:runs|in)", res.stderr)
    assert done is not None and int(done.group(1)) > 100, tail
