"""@argo and @schedule validate their keywords when the class is decorated, naming the decorator and field."""

from __future__ import annotations

from typing import Any

import pytest

from flowkit import Flow, argo, schedule
from flowkit.errors import FlowDefinitionError
from flowkit.specs import ArgoSpec, ScheduleSpec


def _decorate(decorator: Any, **fields: Any) -> type:
    class Decorated(Flow):
        pass

    return decorator(**fields)(Decorated)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "Bad_Name"}, "name"),
        ({"namespace": "n" * 64}, "namespace"),
        ({"pod_gc": "Sometimes"}, "pod_gc"),
        ({"parallelism": 0}, "parallelism"),
        ({"ttl_seconds_after_completion": -1}, "ttl_seconds_after_completion"),
        ({"datastore_mount": "relative/path"}, "datastore_mount"),
        ({"datastore_claim": "Not_A_Claim"}, "datastore_claim"),
        ({"labels": {"team": "not ok"}}, "labels"),
        ({"annotations": {"bad key!": "x"}}, "annotations"),
        ({"unknown_option": 1}, "unknown_option"),
    ],
)
def test_bad_argo_options_fail_at_decoration(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(FlowDefinitionError) as error:
        _decorate(argo, **fields)
    assert (error.value.decorator, error.value.field) == ("argo", field)


def test_argo_defaults() -> None:
    spec = ArgoSpec()
    assert (spec.run_as_non_root, spec.run_as_user) == (True, 1000)
    assert (spec.datastore_claim, spec.datastore_mount) == ("flowkit-datastore", "/flowkit")
    assert ArgoSpec(datastore_mount="/mnt/store/").datastore_mount == "/mnt/store"


@pytest.mark.parametrize(
    "cron", ["* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "*/0 * * * *",
             "* * * foo *", "* * * * 8", "@daily"],
)  # fmt: skip
def test_bad_cron_expressions_fail_at_decoration(cron: str) -> None:
    with pytest.raises(FlowDefinitionError) as error:
        _decorate(schedule, cron=cron)
    assert (error.value.decorator, error.value.field) == ("schedule", "cron")


@pytest.mark.parametrize("cron", ["0 3 * * *", "*/15 9-17 * * mon-fri", "0 0 1,15 jan,jul *", "5 4 * * 0,7"])
def test_good_cron_expressions(cron: str) -> None:
    assert ScheduleSpec(cron=cron).cron == cron


def test_schedule_timezone_must_exist() -> None:
    assert ScheduleSpec(cron="0 3 * * *", timezone="Europe/Paris").timezone == "Europe/Paris"
    with pytest.raises(FlowDefinitionError) as error:
        _decorate(schedule, cron="0 3 * * *", timezone="Mars/Olympus")
    assert error.value.field == "timezone"
