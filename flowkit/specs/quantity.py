"""Kubernetes resource quantities ("500m", "8Gi", "1e3") and Metaflow's integer MiB spelling.

Quantities are kept as the text the user wrote (that is what a pod spec carries), but validated against the
Kubernetes quantity grammar and parsed to an exact `Decimal` when two of them must be compared, e.g. when
`@resources` and `@kubernetes` combine by taking the larger request.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator

# <signedNumber><suffix> from k8s.io/apimachinery resource.Quantity; the exponent form takes an integer exponent.
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|[eE](?P<exponent>[+-]?[0-9]+)|(?P<decimal>m|k|M|G|T|P|E))?$"
)
_BINARY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL_SUFFIXES = {"m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(text: str) -> Decimal:
    """The exact value of a Kubernetes quantity: ``parse_quantity("1Ki") == 1024``, ``("500m") == Decimal("0.5")``."""
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (examples: '2', '500m', '1.5', '8Gi', '512Mi', '1e3')")
    number = Decimal(match["number"])
    if match["binary"]:
        return number * (1024 ** _BINARY_SUFFIXES[match["binary"]])
    if match["exponent"]:
        return number.scaleb(int(match["exponent"]))
    if match["decimal"]:
        return number.scaleb(_DECIMAL_SUFFIXES[match["decimal"]])
    return number


def _positive_quantity(value: object, *, integer_unit: str) -> str:
    """Accept a quantity string or a plain number (meaning `integer_unit`), return the canonical text."""
    if isinstance(value, bool):
        raise ValueError("must be a quantity such as '2' or '8Gi', not a boolean")
    if isinstance(value, (int, float)):
        text = f"{value}{integer_unit}"
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"must be a quantity string such as '8Gi' or a number, got {type(value).__name__}")
    if parse_quantity(text) <= 0:
        raise ValueError(f"{text!r} must be greater than zero")
    return text


def _cpu(value: object) -> str:
    return _positive_quantity(value, integer_unit="")


def _mebibytes(value: object) -> str:
    if isinstance(value, float):
        raise ValueError(f"{value!r}: a plain number means MiB and must be an integer; write a quantity like '1.5Gi'")
    return _positive_quantity(value, integer_unit="Mi")


CpuQuantity = Annotated[str, BeforeValidator(_cpu)]
"""CPU request: a quantity string ("500m", "2") or a number of cores (2, 0.5)."""

ByteQuantity = Annotated[str, BeforeValidator(_mebibytes)]
"""Memory or storage: a quantity string ("8Gi") or, as in Metaflow, an integer number of MiB (4096)."""


def larger_quantity(first: str | None, second: str | None) -> str | None:
    """The larger of two quantities (numerically, so "1Gi" beats "1000Mi"); None means "not requested"."""
    if first is None or second is None:
        return first if second is None else second
    return second if parse_quantity(second) > parse_quantity(first) else first


def add_byte_quantities(first: str, second: str) -> str:
    """``first + second`` as a quantity, in the largest binary unit that holds it exactly ("4Gi" + "1Gi" = "5Gi");
    a fraction of a byte rounds up, since the sum is a limit that must hold both."""
    total = int((parse_quantity(first) + parse_quantity(second)).to_integral_value(rounding="ROUND_CEILING"))
    for suffix, power in sorted(_BINARY_SUFFIXES.items(), key=lambda item: -item[1]):
        if total % (1024**power) == 0:
            return f"{total // 1024**power}{suffix}"
    return str(total)
