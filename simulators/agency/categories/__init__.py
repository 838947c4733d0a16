"""Registry of self-information categories the simulator can generate.

Adding a category = one module with a pydantic payload model and a ``generate(resident, world)`` function,
plus one line in each mapping below. This package must never import the portal or see a My Number.
"""

from __future__ import annotations

from pydantic import BaseModel

from . import child_allowance, household
from .base import AgencyWorld, CategoryGenerator, Resident

#: Category -> generator. A category an agency lists in demo/agencies.json but missing here is answered
#: with 404 ``category_not_served`` until its generator exists.
GENERATORS: dict[str, CategoryGenerator] = {
    "household": household.generate,
    "child_allowance": child_allowance.generate,
}

#: Category -> payload model, for the OpenAPI description and for validating generated payloads.
DATA_MODELS: dict[str, type[BaseModel]] = {
    "household": household.HouseholdData,
    "child_allowance": child_allowance.ChildAllowanceData,
}

__all__ = ["DATA_MODELS", "GENERATORS", "AgencyWorld", "CategoryGenerator", "Resident"]
