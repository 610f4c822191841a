from ninja import Schema


class MarketingCampaignRoiOut(Schema):
    campaign_id: int
    name: str
    cost: float
    leads: float
    opportunities: float
    won: float
    revenue: float
    cost_per_lead: float | None
    cost_per_sale: float | None
    roi: float | None


class MarketingOrgRoiOut(Schema):
    cost: float
    leads: float
    won: float
    revenue: float
    cost_per_lead: float | None
    cost_per_sale: float | None
    roi: float | None


class MarketingRoiOut(Schema):
    model: str
    campaigns: list[MarketingCampaignRoiOut]
    organisation: MarketingOrgRoiOut
    unattributed: dict[str, float]
    totals: dict[str, float]
