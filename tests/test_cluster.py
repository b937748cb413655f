"""Dask for real: a LocalCluster of 2 processes gives the serial report; a worker without the package fails fast.

Marked ``cluster`` and skipped when ``distributed`` is not installed (``pip install
".[cluster]"``); ``.ci/run`` installs the extra and runs ``pytest -m cluster``.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
import time

import pytest
from dsb_verifier.checks.executors import ExecutorPreflightError
from dsb_verifier.checks.profiles import get_profile
from dsb_verifier.checks.runner import run_checks

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.cluster

#: A cheap claim set: C1 runs whole as one task, C2 spreads its flows over the workers.
TINY = dataclasses.replace(get_profile("quick"), name="tiny", n_cases=6, n_inits=1, t_max=2e3)
CLAIMS = ("C1", "C2")

#: Worker preload that makes ``import dsb_verifier`` fail on that worker only.
HIDE_PACKAGE = textwrap.dedent(
    """
    import sys

    class _Hide:
        def find_spec(self, name, path=None, target=None):
            if name == "dsb_verifier" or name.startswith("dsb_verifier."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _Hide())
    for _name in [m for m in sys.modules if m == "dsb_verifier" or m.startswith("dsb_verifier.")]:
        del sys.modules[_name]
    """
)


def _without_timing(report) -> str:
    doc = report.to_json()
    doc["provenance"].pop("wall_seconds")
    for claim in doc["claims"]:
        claim.pop("seconds")
    return json.dumps(doc, sort_keys=True)


def _cluster(**kwargs):
    return distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, **kwargs
    )


def test_local_cluster_gives_the_serial_report():
    serial = run_checks(TINY, 21, CLAIMS)
    with _cluster() as cluster, distributed.Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        on_dask = run_checks(TINY, 21, CLAIMS, executor=client.get_executor())
    assert _without_timing(on_dask) == _without_timing(serial)


def test_a_worker_without_the_package_fails_fast_in_one_line(tmp_path):
    hide = tmp_path / "hide_dsb_verifier.py"
    hide.write_text(HIDE_PACKAGE)
    with _cluster(preload=[str(hide)]) as cluster, distributed.Client(cluster) as client:
        t0 = time.perf_counter()
        with pytest.raises(ExecutorPreflightError) as info:
            run_checks(TINY, 21, CLAIMS, executor=client.get_executor())
        elapsed = time.perf_counter() - t0
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(
        "an executor worker cannot run dsb-verifier (ModuleNotFoundError: No module named 'dsb_verifier')"
    )
    assert elapsed < 60  # the pre-flight's bound; the task fails at once in practice
