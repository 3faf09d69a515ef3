"""`PlainData` behaves as the dataclasses it replaces on the pod path: keyword-only construction with defaults and
factories, ``__post_init__``, equality and repr over the fields in order, frozen classes, `fields` and `replace`."""

from __future__ import annotations

from typing import ClassVar

import pytest

from flowkit.plain_data import PlainData, field, fields, replace


class Base(PlainData):
    KIND: ClassVar[str] = "base"
    name: str
    tags: list[str] = field(default_factory=list)


class Child(Base):
    size: int
    note: str = ""
    checked: bool = False

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"size must be >= 0, got {self.size}")
        self.checked = True


class Point(PlainData, frozen=True):
    x: int
    y: int = 0


def test_fields_are_declared_in_order_base_first_class_variables_excluded() -> None:
    assert fields(Child) == ("name", "tags", "size", "note", "checked")
    assert fields(Child(name="a", size=1)) == fields(Child)
    assert Child.KIND == "base"


def test_defaults_apply_and_each_instance_gets_its_own_factory_value() -> None:
    first, second = Child(name="a", size=1), Child(name="b", size=2)
    first.tags.append("x")
    assert (first.tags, second.tags, second.note) == (["x"], [], "")


def test_post_init_runs_after_the_fields_are_set() -> None:
    assert Child(name="a", size=1).checked
    with pytest.raises(ValueError, match="size must be >= 0, got -1"):
        Child(name="a", size=-1)


@pytest.mark.parametrize(
    ("values", "problem"),
    [({"name": "a"}, r"Child\(\): missing fields \['size'\]"), ({"name": "a", "size": 1, "colour": 2}, "unexpected")],
)
def test_a_missing_or_unknown_field_is_a_type_error_naming_it(values: dict[str, object], problem: str) -> None:
    with pytest.raises(TypeError, match=problem):
        Child(**values)  # type: ignore[arg-type]


def test_equality_and_repr_follow_the_fields() -> None:
    assert Child(name="a", size=1) == Child(name="a", size=1)
    assert Child(name="a", size=1) != Child(name="a", size=2)
    assert Base(name="a") != Child(name="a", size=0), "another class is never equal"
    assert repr(Point(x=1)) == "Point(x=1, y=0)"


def test_a_frozen_instance_refuses_assignment_and_hashes_by_value() -> None:
    point = Point(x=1, y=2)
    with pytest.raises(AttributeError, match="'x': Point is frozen"):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        del point.y  # type: ignore[misc]
    assert {point, Point(x=1, y=2)} == {point}


def test_an_instance_that_is_not_frozen_is_unhashable_as_a_dataclass() -> None:
    with pytest.raises(TypeError, match="unhashable"):
        hash(Base(name="a"))


def test_replace_builds_a_new_instance_through_init() -> None:
    original = Child(name="a", size=1, note="n")
    changed = replace(original, size=5)
    assert (changed.name, changed.size, changed.note, changed.checked) == ("a", 5, "n", True)
    assert original.size == 1
    with pytest.raises(ValueError, match="size must be >= 0"):
        replace(original, size=-2)
