"""Whether a label and its attributes fit a recipe's ontology: one contract, checked by the
gateway before publishing and by anyone who wants to check an import."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shared.contracts.dataloop import AttributeDefinition, Ontology

MAX_FREE_TEXT = 10_000


@dataclass(frozen=True)
class Problem:
    """One broken rule: `field` is the JSON path in the request, `rule` a sentence."""

    field: str
    rule: str


def _in_scope(definition: AttributeDefinition, label: str) -> bool:
    if "*" in definition.scope:
        return True
    # A scope entry names a label by full path or by bare tag; either way it also covers
    # that label's descendants, so match every ancestor path and every tag on the path.
    parts = label.split(".")
    ancestors = {".".join(parts[: i + 1]) for i in range(len(parts))}
    return bool((ancestors | set(parts)) & set(definition.scope))


def _value_problem(definition: AttributeDefinition, value: Any) -> str | None:
    kind = definition.type
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "freeText":
        if not isinstance(value, str):
            return "must be a string"
        return None if len(value) <= MAX_FREE_TEXT else f"must be at most {MAX_FREE_TEXT} chars"
    if kind == "range":
        return _range_problem(definition, value)
    allowed = definition.values or []
    if definition.multi:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "must be a list of strings"
        bad = [v for v in value if v not in allowed]
        return f"values {bad} are not among {allowed}" if bad else None
    if not isinstance(value, str) or value not in allowed:
        return f"must be one of {allowed}"
    return None


def _range_problem(definition: AttributeDefinition, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "must be a number"
    rng = definition.range
    if rng is None:
        return None
    if not rng.min <= value <= rng.max:
        return f"must be between {rng.min:g} and {rng.max:g}"
    if rng.step:
        steps = (value - rng.min) / rng.step
        if abs(steps - round(steps)) > 1e-9:
            return f"must be a multiple of {rng.step:g} from {rng.min:g}"
    return None


def check_classification(
    ontology: Ontology, label: str, attributes: dict[str, Any]
) -> list[Problem]:
    """Problems with classifying as `label` with `attributes`; empty when it fits."""
    labels = ontology.labels()
    if label not in labels:
        known = ", ".join(list(labels)[:20])
        return [Problem("label", f"'{label}' is not a label of the recipe (labels: {known})")]
    defs = {d.key: d for d in ontology.metadata.attributes if _in_scope(d, label)}
    problems = [
        Problem(f"attributes.{key}", f"is not an attribute of label '{label}'")
        for key in attributes
        if key not in defs
    ]
    for key, definition in defs.items():
        if key not in attributes:
            if not definition.optional:
                problems.append(Problem(f"attributes.{key}", "is required for this label"))
            continue
        if (rule := _value_problem(definition, attributes[key])) is not None:
            problems.append(Problem(f"attributes.{key}", rule))
    return problems
