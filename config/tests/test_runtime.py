"""Web and worker processes freeze what they have loaded and collect garbage less often
(config/runtime.py). Each case runs in a fresh interpreter: the test process keeps its own GC."""

from __future__ import annotations

import subprocess
import sys

import pytest

from config.tests.test_deploy_checks import ROOT, _production_env

REPORT = "import gc; print(gc.get_threshold()[0], gc.get_freeze_count())"


def _run(code: str, **env: str) -> tuple[int, int]:
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code + "\n" + REPORT],
        cwd=ROOT,
        env={**_production_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    threshold, frozen = result.stdout.split()[-2:]
    return int(threshold), int(frozen)


def test_a_web_worker_freezes_its_loaded_objects_on_import() -> None:
    # when: gunicorn imports the WSGI application
    threshold, frozen = _run("import config.wsgi")
    # then: the apps' objects are out of the collector's reach, and it runs less often
    assert threshold == 10_000
    assert frozen > 50_000


@pytest.mark.parametrize("signal_name", ["worker_init", "worker_process_init"])
def test_a_celery_worker_freezes_its_loaded_objects_when_it_starts(signal_name: str) -> None:
    # when: a worker (or a prefork child) starts
    code = (
        "import django; django.setup(); import config.celery; from celery import signals; "
        f"signals.{signal_name}.send(sender=None)"
    )
    threshold, frozen = _run(code, GC_THRESHOLD="25000")
    # then
    assert threshold == 25_000
    assert frozen > 50_000


def test_gc_threshold_zero_keeps_pythons_own() -> None:
    # given: an operator who wants the interpreter's default
    threshold, _ = _run("import config.wsgi", GC_THRESHOLD="0")
    # then
    assert threshold == 700


def test_nothing_is_frozen_before_a_worker_starts() -> None:
    # given: the app imported, as by `manage.py` or a test, but no worker started
    threshold, frozen = _run("import django; django.setup(); import config.celery")
    # then: an ordinary process keeps the interpreter's collector as it is
    assert (threshold, frozen) == (700, 0)
