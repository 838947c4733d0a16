"""``disability`` (障害者手帳): the disability certificates a municipality's welfare division has on record.

Served by ``municipal-welfare``. A resident holding a certificate (身体障害者手帳, 療育手帳 or 精神障害者保健
福祉手帳) gets its kind, grade, disability, number, issuer and dates, and the medical-care support it opens
(自立支援医療（更生医療）: the yearly certificate, its monthly cap set from the resident tax, the designated
clinic). Everyone else gets an explicit "none": ``status`` ``none`` and empty lists, never an error.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field

from .base import AgencyWorld, Resident, StrictModel, add_years
from .clinical import dialysis_clinic
from .common import city_of, municipality
from .income_tax import assess
from .lives import life_of, life_rng


class Certificate(StrictModel):
    kind: Literal["身体障害者手帳", "療育手帳", "精神障害者保健福祉手帳"] = Field(description="手帳の種類")
    number: str = Field(description="手帳番号")
    grade: str = Field(description="等級 (程度)", examples=["1級"])
    disability: str = Field(description="障害名", examples=["腎臓機能障害"])
    issued_on: date = Field(description="交付年月日")
    issuer: str = Field(description="交付者", examples=["横浜市長"])
    review_on: date | None = Field(description="再認定の時期 (null when no review is set)")
    valid_to: date | None = Field(description="有効期限 (精神障害者保健福祉手帳 only; null otherwise)")


class MedicalSupport(StrictModel):
    """自立支援医療 (更生医療): one year's certificate."""

    kind: Literal["自立支援医療（更生医療）", "自立支援医療（精神通院医療）", "自立支援医療（育成医療）"]
    certificate_number: str = Field(description="受給者番号")
    treatment: str = Field(description="対象となる医療", examples=["人工透析療法"])
    provider: str = Field(description="指定自立支援医療機関")
    valid_from: date
    valid_to: date
    monthly_cap_yen: int = Field(ge=0, description="自己負担上限月額")


class DisabilityData(StrictModel):
    model_config = ConfigDict(
        title="DisabilityData",
        json_schema_extra={"examples": [{"status": "none", "certificates": [], "medical_support": []}]},
    )

    status: Literal["holder", "none"] = Field(description="holder: holds a certificate; none: no certificate")
    certificates: list[Certificate] = Field(description="障害者手帳; empty when none")
    medical_support: list[MedicalSupport] = Field(description="自立支援医療, newest first; empty when none")


def _issuer(code: str) -> str:
    place = municipality(code, "")
    if "市" in place.name and place.name.endswith("区"):  # designated cities issue their own certificates
        return f"{city_of(place)}長"
    return f"{place.prefecture}知事"


def _monthly_cap(income_levy: int) -> int:
    """重度かつ継続 caps by the household's 市町村民税所得割."""
    if income_levy < 33_000:
        return 5_000
    if income_levy < 235_000:
        return 10_000
    return 20_000


def generate(resident: Resident, world: AgencyWorld) -> dict[str, Any]:
    life = life_of(resident, world)
    disability = life.disability
    if disability is None or disability.certificate_issued_on > world.today:
        return DisabilityData(status="none", certificates=[], medical_support=[]).model_dump(mode="json")
    rng = life_rng(world.seed, life.key, "disability")
    certificate = Certificate(
        kind="身体障害者手帳",
        number=f"{rng.randrange(100_000, 1_000_000)}",
        grade=disability.grade,
        disability=disability.kind,
        issued_on=disability.certificate_issued_on,
        issuer=_issuer(resident.municipality),
        review_on=None,  # dialysis is lasting: no review is set
        valid_to=None,
    )
    supports: list[MedicalSupport] = []
    start = disability.support_since
    number = f"{resident.municipality[:5]}{rng.randrange(10_000, 100_000)}"
    while start <= world.today:
        end = add_years(start, 1) - timedelta(days=1)
        fy = start.year if start.month >= 7 else start.year - 1  # caps follow the assessment from July
        levy = assess(life, resident, world, fy).income_levy
        supports.append(
            MedicalSupport(
                kind="自立支援医療（更生医療）",
                certificate_number=number,
                treatment="腎臓機能障害に対する人工透析療法",
                provider=dialysis_clinic(resident),
                valid_from=start,
                valid_to=end,
                monthly_cap_yen=_monthly_cap(levy),
            )
        )
        start = end + timedelta(days=1)
    data = DisabilityData(
        status="holder",
        certificates=[certificate],
        medical_support=[s for s in reversed(supports) if s.valid_from <= world.today][:5],
    )
    return data.model_dump(mode="json")
