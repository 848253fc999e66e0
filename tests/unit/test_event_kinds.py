"""Every kind of event the domain stores reads in Chinese, each under its own name."""

from __future__ import annotations

import importlib
import pkgutil
import re

from eventsourcing.domain import CanMutateAggregate

import domain
from domain.base import LedgerAggregate
from interfaces.web.event_kinds import AGGREGATE_LABELS, EVENT_KINDS, event_label, kind_choices, parse_kind
from projections.audit_index import known_event_types


def stored_kinds() -> set[tuple[str, str]]:
    """(aggregate, event) of every event class of every aggregate in domain/: every module of
    the package imported, so an aggregate added in a new module is found too."""
    for module in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(module.name)
    kinds, pending = set(), list(LedgerAggregate.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        kinds.update(
            (cls.__name__, name) for name, value in vars(cls).items()
            if isinstance(value, type) and issubclass(value, CanMutateAggregate) and name == value.__name__
            and name not in ("Event", "Created")
        )
    return kinds


def test_every_stored_kind_has_a_label_and_no_label_stands_for_two_kinds() -> None:
    assert stored_kinds() == set(EVENT_KINDS)
    assert {a for a, _ in EVENT_KINDS} == set(AGGREGATE_LABELS)
    assert len(set(EVENT_KINDS.values())) == len(EVENT_KINDS)
    assert {e for _, e in EVENT_KINDS} == set(known_event_types())


def test_registrations_are_told_apart() -> None:
    assert event_label("Unit", "Registered") == "登记单位"
    assert event_label("User", "Enrolled") == "登记用户"
    assert event_label("RectificationIssue", "Registered") == "登记整改问题"
    assert event_label("Unit", "SomethingNew") == "单位的记录"  # an event added without a label still reads in Chinese


def test_a_kind_travels_as_aggregate_dot_event_and_only_known_ones_parse() -> None:
    values = [value for _, value, _ in kind_choices()]
    assert "ChildCase.Referred" in values and all(parse_kind(v) for v in values)
    assert parse_kind("Unit.Urged") is None and parse_kind("Urged") is None


def test_every_label_is_chinese_and_no_registration_reads_as_an_issues() -> None:
    for (aggregate, event), label in EVENT_KINDS.items():
        assert re.search(r"[\u4e00-\u9fff]", label) and not re.search(r"[A-Za-z]", label), (aggregate, event, label)
        if aggregate != "RectificationIssue":
            assert "问题" not in label, (aggregate, event, label)
    assert all(re.search(r"[\u4e00-\u9fff]", label) for label in AGGREGATE_LABELS.values())
