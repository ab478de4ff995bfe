"""The shapes of the FHIR bodies this edge reads (``Claim/$submit``,
``CoverageEligibilityRequest/$submit``, each as the resource itself or in the operation's
``Parameters`` form), declared so that FastAPI checks them before a route reads them and
describes them in the OpenAPI schema. Only the elements read are declared; any other element is
let through unread (FHIR resources have many). A wrong shape (``"patient": "Patient/1"``,
``"total": 5``) is a 400 OperationOutcome naming the element. Amounts are checked where they are
read (``api.inputs.amount``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator


class Element(BaseModel):
    model_config = ConfigDict(extra="allow")


class Reference(Element):
    reference: StrictStr | None = None


class Coding(Element):
    system: StrictStr | None = None
    code: StrictStr | None = None


class CodeableConcept(Element):
    coding: list[Coding] | None = None
    text: StrictStr | None = None


class Period(Element):
    start: StrictStr | None = None
    end: StrictStr | None = None


class Money(Element):
    value: Any = Field(
        default=None,
        description="yuan (a JSON number; a string is also read)",
        json_schema_extra={"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]},
    )
    currency: StrictStr | None = None

    @field_validator("value")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float | str)
        ):
            raise ValueError("must be a number (yuan)")
        return value


class Identifier(Element):
    system: StrictStr | None = None
    value: StrictStr | None = None


class Extension(Element):
    url: StrictStr
    valueMoney: Money | None = None
    valueString: StrictStr | None = None


class Quantity(Element):
    value: Any = Field(
        default=None,
        description="a decimal number (a string is also read)",
        json_schema_extra={"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]},
    )


#: FHIR's positiveInt: what a ClaimResponse can answer as an item's ``itemSequence``.
PositiveInt = Annotated[int, Field(ge=1, le=2**31 - 1)]


class ClaimItem(Element):
    """A fee detail line: the national code (``productOrService``), quantity, unit price,
    its amount (``net``, optional) and day; ``sequence`` its ``feedetl_sn``."""

    sequence: PositiveInt | None = None
    productOrService: CodeableConcept | None = None
    quantity: Quantity | None = None
    unitPrice: Money | None = None
    net: Money | None = None
    servicedDate: StrictStr | None = None


class ClaimDiagnosis(Element):
    sequence: PositiveInt | None = None
    diagnosisCodeableConcept: CodeableConcept | None = None
    type: list[CodeableConcept] | None = None


class ClaimProcedure(Element):
    sequence: PositiveInt | None = None
    procedureCodeableConcept: CodeableConcept | None = None
    date: StrictStr | None = None
    type: list[CodeableConcept] | None = None


class ClaimIn(Element):
    """A Claim as ``Claim/$submit`` reads it."""

    resourceType: Literal["Claim"]
    use: StrictStr | None = None
    identifier: list[Identifier] | None = None
    patient: Reference | None = None
    type: CodeableConcept | None = None
    billablePeriod: Period | None = None
    created: StrictStr | None = None
    total: Money | None = None
    extension: list[Extension] | None = None
    item: list[ClaimItem] | None = None
    diagnosis: list[ClaimDiagnosis] | None = None
    procedure: list[ClaimProcedure] | None = None


class ClaimParameter(Element):
    name: StrictStr
    resource: ClaimIn | None = None


class ClaimParameters(Element):
    """``Claim/$submit`` in the operation's Parameters form: ``parameter[name = resource]``."""

    resourceType: Literal["Parameters"]
    parameter: list[ClaimParameter] | None = None


class EligibilityIn(Element):
    """A CoverageEligibilityRequest as its ``$submit`` reads it."""

    resourceType: Literal["CoverageEligibilityRequest"]
    id: StrictStr | None = None
    patient: Reference | None = None
    servicedDate: StrictStr | None = None


class EligibilityParameter(Element):
    name: StrictStr
    resource: EligibilityIn | None = None


class EligibilityParameters(Element):
    resourceType: Literal["Parameters"]
    parameter: list[EligibilityParameter] | None = None


ClaimBody = Annotated[ClaimIn | ClaimParameters, Body(discriminator="resourceType")]
EligibilityBody = Annotated[
    EligibilityIn | EligibilityParameters, Body(discriminator="resourceType")
]
