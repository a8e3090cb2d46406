"""HTTP request bodies: strict (unknown fields refused), camelCase like Dataloop's API.
Kept apart from the event contracts: they change for different reasons."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, field_validator
from pydantic.alias_generators import to_camel

from gateway.limits import DATE_RULE, outside_utc_years
from gateway.roles import Role
from shared.contracts.dataloop import AttributeDefinition, LabelNode
from shared.contracts.envelope import utcnow

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    @field_validator("*")
    @classmethod
    def _storable_moment(cls, value: Any) -> Any:
        """Every date of every body: one BSON can hold (gateway.limits)."""
        if isinstance(value, datetime) and outside_utc_years(value):
            raise ValueError(DATE_RULE)
        return value


class OrganizationIn(Body):
    name: str = Field(min_length=1, max_length=200)


class ProjectIn(Body):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    organization_id: str | None = None


class MemberIn(Body):
    email: str = Field(pattern=EMAIL, max_length=320)
    role: Role


class MemberPatch(Body):
    role: Role


class OntologyIn(Body):
    roots: list[LabelNode] = Field(default_factory=list)
    attributes: list[AttributeDefinition] = Field(default_factory=list)


class RecipeIn(Body):
    title: str = Field(min_length=1, max_length=200)
    ontology: OntologyIn = Field(default_factory=OntologyIn)
    instructions: str | None = Field(None, max_length=20_000)


class DatasetIn(Body):
    name: str = Field(min_length=1, max_length=200)
    recipe_id: str | None = None


class DatasetPatch(Body):
    name: str | None = Field(None, min_length=1, max_length=200)
    recipe_id: str | None = None


class ItemIn(Body):
    """Register an item that lives elsewhere, by URL."""

    name: str = Field(min_length=1, max_length=500, pattern=r"^[^/\\]+$")
    url: HttpUrl
    mimetype: str = Field(pattern=r"^(image|video)/[\w.+-]+$")
    dir: str = Field("/", pattern=r"^/([^/\\]+/)*$|^/[^/\\]+(/[^/\\]+)*$")
    width: int | None = Field(None, gt=0)
    height: int | None = Field(None, gt=0)
    fps: float | None = Field(None, gt=0, le=1000)
    frame_count: int | None = Field(None, ge=1)
    duration: float | None = Field(None, ge=0)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ClassifyIn(Body):
    type: Literal["class"] = "class"
    label: str = Field(min_length=1, max_length=1000)
    attributes: dict[str, Any] = Field(default_factory=dict)
    description: str | None = Field(None, max_length=10_000)
    source: Literal["ui", "sdk", "other"] = "ui"
    task_id: str | None = Field(None, description="classify in this task: its rules apply")


class AnnotationPatch(Body):
    label: str | None = Field(None, min_length=1, max_length=1000)
    attributes: dict[str, Any] | None = None
    description: str | None = Field(None, max_length=10_000)


class TokenIn(Body):
    name: str = Field("default", min_length=1, max_length=100)
    scopes: list[Literal["read", "write"]] = Field(
        default_factory=lambda: ["read", "write"],
        description='["read"] for a read-only token (integrations), or ["read", "write"]')
    expires_at: AwareDatetime | None = Field(None, description="when the token stops working")

    @field_validator("scopes")
    @classmethod
    def _reads(cls, scopes: list[str]) -> list[str]:
        if "read" not in scopes:
            raise ValueError('must include "read": ["read"] or ["read", "write"]')
        return scopes

    @field_validator("expires_at")
    @classmethod
    def _future(cls, moment: Any) -> Any:
        if moment is not None and moment <= utcnow():
            raise ValueError("must be in the future")
        return moment
