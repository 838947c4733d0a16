"""Registry of self-information categories the simulator can generate.

Adding a category = one module with a pydantic payload model and a ``generate(resident, world)`` function,
plus one line in each mapping below (and ``python -m simulators.agency schemas`` to publish its contract).
This package must never import the portal or see a My Number.
"""

from __future__ import annotations

from pydantic import BaseModel

from . import (
    child_allowance,
    disability,
    employment_insurance,
    health_insurance,
    household,
    income_tax,
    long_term_care,
    medical_checkups,
    medical_drugs,
    medical_expenses,
    pension,
    vaccination,
)
from .base import AgencyWorld, CategoryGenerator, Resident

#: Category -> generator. A category an agency lists in demo/agencies.json but missing here is answered
#: with 404 ``category_not_served``.
GENERATORS: dict[str, CategoryGenerator] = {
    "income_tax": income_tax.generate,
    "household": household.generate,
    "pension": pension.generate,
    "health_insurance": health_insurance.generate,
    "vaccination": vaccination.generate,
    "child_allowance": child_allowance.generate,
    "long_term_care": long_term_care.generate,
    "employment_insurance": employment_insurance.generate,
    "disability": disability.generate,
    "medical_drugs": medical_drugs.generate,
    "medical_checkups": medical_checkups.generate,
    "medical_expenses": medical_expenses.generate,
}

#: Category -> payload model: the OpenAPI description, the published JSON Schemas
#: (contracts/self-information/) and the check every generated payload passes at ``init``.
DATA_MODELS: dict[str, type[BaseModel]] = {
    "income_tax": income_tax.IncomeTaxData,
    "household": household.HouseholdData,
    "pension": pension.PensionData,
    "health_insurance": health_insurance.HealthInsuranceData,
    "vaccination": vaccination.VaccinationData,
    "child_allowance": child_allowance.ChildAllowanceData,
    "long_term_care": long_term_care.LongTermCareData,
    "employment_insurance": employment_insurance.EmploymentInsuranceData,
    "disability": disability.DisabilityData,
    "medical_drugs": medical_drugs.MedicalDrugsData,
    "medical_checkups": medical_checkups.MedicalCheckupsData,
    "medical_expenses": medical_expenses.MedicalExpensesData,
}

__all__ = ["DATA_MODELS", "GENERATORS", "AgencyWorld", "CategoryGenerator", "Resident"]
