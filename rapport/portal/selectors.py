"""Reads of the customer portal. Every query starts from the portal user's contact (and its
account when the account lets its portal users see the whole company's records); staff
selectors and the staff visibility layer are never used here. A row outside that scope is
RecordNotFound (404)."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from rapport.assets.models import Asset
from rapport.cases.models import Case, CaseCategory, CaseEntry, CaseEntryKind
from rapport.knowledge.models import Article, ArticleStatus, ArticleVisibility
from rapport.orders.models import Order, OrderLine
from rapport.portal.models import PortalAccountSetting, PortalCaseFile, PortalUser
from rapport.records.exceptions import RecordNotFound

PUBLIC_ENTRY_KINDS = (CaseEntryKind.REPLY, CaseEntryKind.CUSTOMER)


def sees_company(portal_user: PortalUser) -> bool:
    account_id = portal_user.contact.account_id
    if not account_id:
        return False
    return PortalAccountSetting.objects.filter(account_id=account_id, company_cases=True).exists()


def _scope(portal_user: PortalUser, *, company: bool | None = None) -> Q:
    contact = portal_user.contact
    q = Q(contact_id=contact.pk)
    if company is None:
        company = sees_company(portal_user)
    if company and contact.account_id:
        q |= Q(account_id=contact.account_id)
    return q


def portal_cases(portal_user: PortalUser, *, status: str = "") -> QuerySet[Case]:
    qs = (
        Case.objects.filter(_scope(portal_user), deleted_at=None)
        .select_related("category", "contact", "asset", "asset__product")
        .order_by("-created_at", "-id")
    )
    if status == "open":
        qs = qs.exclude(status__in=("resolved", "closed"))
    elif status == "closed":
        qs = qs.filter(status__in=("resolved", "closed"))
    return qs


def portal_case_get(portal_user: PortalUser, pk) -> Case:
    case = portal_cases(portal_user).filter(pk=pk).first() if str(pk).isdigit() else None
    if case is None:
        raise RecordNotFound("case")
    return case


def portal_case_entries(case: Case) -> QuerySet[CaseEntry]:
    """The public conversation only: customer messages and public replies, never notes."""
    return (
        CaseEntry.objects.filter(case=case, kind__in=PUBLIC_ENTRY_KINDS)
        .select_related("author")
        .order_by("created_at", "id")
    )


def portal_case_files(case: Case):
    return PortalCaseFile.objects.filter(case=case).select_related("file")


def portal_categories() -> QuerySet[CaseCategory]:
    return CaseCategory.objects.filter(is_active=True, parent=None)


def portal_category_get(pk) -> CaseCategory | None:
    if not pk or not str(pk).isdigit():
        return None
    return portal_categories().filter(pk=pk).first()


def portal_orders(portal_user: PortalUser) -> QuerySet[Order]:
    return (
        Order.objects.filter(_scope(portal_user))
        .prefetch_related("lines", "lines__product")
        .order_by("-ordered_at", "-id")
    )


def portal_order_get(portal_user: PortalUser, pk) -> Order:
    order = portal_orders(portal_user).filter(pk=pk).first() if str(pk).isdigit() else None
    if order is None:
        raise RecordNotFound("order")
    return order


def portal_order_line_get(portal_user: PortalUser, pk) -> OrderLine:
    if not str(pk).isdigit():
        raise RecordNotFound("order line")
    line = (
        OrderLine.objects.filter(pk=pk, order__in=portal_orders(portal_user).values("pk"))
        .select_related("order", "product")
        .first()
    )
    if line is None:
        raise RecordNotFound("order line")
    return line


def portal_assets(portal_user: PortalUser) -> QuerySet[Asset]:
    return (
        Asset.objects.filter(_scope(portal_user))
        .select_related("product")
        .order_by("product__name", "id")
    )


def portal_asset_get(portal_user: PortalUser, pk) -> Asset:
    asset = portal_assets(portal_user).filter(pk=pk).first() if str(pk).isdigit() else None
    if asset is None:
        raise RecordNotFound("asset")
    return asset


def warranty_status(asset: Asset) -> str:
    """'active' (warranty_end >= today), 'expired', or '' (no warranty recorded)."""
    if asset.warranty_end is None:
        return ""
    return "active" if asset.warranty_end >= timezone.localdate() else "expired"


def portal_returns(portal_user: PortalUser):
    from rapport.returns.models import ReturnRequest

    return (
        ReturnRequest.objects.filter(_scope(portal_user))
        .select_related("product", "order_line", "asset")
        .order_by("-created_at", "-id")
    )


def portal_return_get(portal_user: PortalUser, pk):
    row = portal_returns(portal_user).filter(pk=pk).first() if str(pk).isdigit() else None
    if row is None:
        raise RecordNotFound("return")
    return row


def public_articles(q: str = "") -> QuerySet[Article]:
    """Published articles marked public (customers too); with `q`, those matching it."""
    from rapport.search.matching import search_filter

    qs = Article.objects.filter(
        status=ArticleStatus.PUBLISHED, visibility=ArticleVisibility.PUBLIC
    ).select_related("category")
    q = (q or "").strip()[:200]
    if q:
        qs = search_filter(qs, q, fields=["title", "body"])
    return qs.order_by("-helpful_count", "title", "id")


def public_article_get(slug: str) -> Article:
    article = public_articles().filter(slug=slug).first()
    if article is None:
        raise RecordNotFound("article")
    return article
