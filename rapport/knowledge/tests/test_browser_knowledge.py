"""Browser journey in Chromium: an agent writes an article with the live preview, finds it
through the knowledge search, votes on it, and inserts it into a case reply from the
suggestion panel (the case page's spot is simulated: the cases branch owns that page)."""

import pytest

from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.identity.models import Role
from rapport.identity.services import user_create
from rapport.knowledge.models import Article, ArticleCaseUse

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("migration_data_restored"),
]


def test_write_an_article_find_it_vote_and_insert_it_into_a_reply(page, screenshot):
    from rapport.cases.models import Case

    agent = user_create(
        username="ada", first_name="Ada", last_name="Agent", role=Role.ADMIN, validate=False
    )
    case = Case.objects.create(
        number=42, subject="Printer shows error E42", description="The printer stops at E42."
    )
    sign_in(page, agent)
    page.set_default_timeout(60_000)  # a shared machine under load: waits, not assertions

    page.goto("/knowledge/")
    page.get_by_role("link", name="Knowledge").first.wait_for()
    page.get_by_role("link", name="New article").click()
    page.get_by_label("Title").fill("Printer error E42")
    page.get_by_label("Status").select_option("published")
    page.get_by_label("Text (Markdown)").fill(
        "Error **E42** means a paper jam.\n\n1. Open tray two\n2. Remove the sheet"
    )
    preview = page.locator("#kb-preview")
    preview.locator("strong", has_text="E42").wait_for()  # the live preview rendered it
    assert preview.locator("li").count() == 2
    screenshot(page, "knowledge-editor")
    page.get_by_role("button", name="Create article").click()
    page.get_by_role("heading", name="Printer error E42").wait_for()
    article = Article.objects.get()
    assert article.current_version.number == 1

    page.goto("/knowledge/")
    page.get_by_label("Search the knowledge base").fill("paper jam")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Printer error E42").click()
    page.get_by_role("heading", name="Printer error E42").wait_for()

    page.get_by_role("button", name="Yes").click()
    page.locator("#kb-vote-counts", has_text="1 found it helpful").wait_for()
    article.refresh_from_db()
    assert article.helpful_count == 1
    screenshot(page, "knowledge-article")

    # The case page's spot: a reply box and the panel loaded by htmx, as the cases branch
    # includes them (<div id="kb-suggestions" hx-get=… hx-trigger="load">).
    page.evaluate(
        """(caseId) => {
            const box = document.createElement("textarea");
            box.id = "case-reply-body";
            box.value = "Hello,";
            const panel = document.createElement("div");
            panel.id = "kb-suggestions";
            panel.setAttribute("hx-get", `/knowledge/suggest/case/${caseId}/`);
            panel.setAttribute("hx-trigger", "load");
            document.querySelector("main").prepend(box, panel);
            htmx.process(panel);
        }""",
        case.pk,
    )
    insert = page.get_by_role("button", name="Insert into reply")
    # The use is recorded by a POST the click sends without waiting for it.
    with page.expect_response(lambda r: r.request.method == "POST" and "/knowledge/" in r.url):
        insert.click()
    page.get_by_role("button", name="Inserted").wait_for()
    reply = page.locator("#case-reply-body").input_value()
    assert reply.startswith("Hello,\n\nPrinter error E42\n\nError **E42** means a paper jam.")
    assert ArticleCaseUse.objects.filter(case=case, article=article).exists()
    assert page.errors == []

    page.goto(f"/knowledge/articles/{article.pk}/")
    shots_at_both_sizes(page, screenshot, "knowledge-article")
