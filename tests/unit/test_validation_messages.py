"""Every validation error a request body can produce has a Chinese message of its own."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from interfaces.http import cases, schemas
from interfaces.http.validation_messages import MESSAGES, field_path, translate

CJK = re.compile(r"[\u4e00-\u9fff]")
SECRET = "王小明110105201205153414"
WRONG: list[Any] = [
    None, SECRET, "", "x" * 20_001, "\x00" + SECRET, -1, 10**30, 1.5, True, [], [SECRET], {}, {"x": SECRET},
    "2019-02-30", "2019-05-31T25:00:00", f"{SECRET}-01-01",
]


def request_models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    pending: list[type[BaseModel]] = [schemas.Body]
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return [m for m in found if m is not schemas.Body and m.__module__ in (schemas.__name__, cases.__name__)]


@pytest.mark.parametrize("model", request_models(), ids=lambda m: m.__name__)
def test_every_error_of_every_request_body_is_translated_without_the_value(model: type[BaseModel]) -> None:
    seen: set[str] = set()
    for field in model.model_fields:
        for value in WRONG:
            try:
                model.model_validate({field: value, "unknown_field": SECRET})
            except ValidationError as invalid:
                errors = invalid.errors()
                seen.update(e["type"] for e in errors)
                for error in translate([{**e, "loc": ("body", *e["loc"])} for e in errors]):
                    assert CJK.search(error["msg"]), error
                    assert SECRET not in str(error) and "王小明" not in str(error)
    assert seen - set(MESSAGES) == set()


def test_a_field_path_reads_as_written_in_json() -> None:
    assert field_path(("body", "measures", 0, "due")) == "measures[0].due"
    assert field_path(("body", "measures", 0, "MeasureDraft", "due")) == "measures[0].due"
    assert field_path(("query", "status")) == "status"
    assert field_path(("header", "if-match")) == "if-match"
