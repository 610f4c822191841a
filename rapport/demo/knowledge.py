"""The demo company's knowledge base: four shelves of articles an agent really looks up."""

from rapport.identity.models import User

# (category, description, [(title, visibility, body, helpful votes)])
SHELVES = [
    (
        "Account & sign-in",
        "Passwords, two-factor, locked accounts, users",
        [
            (
                "Reset a forgotten password",
                "public",
                "If you forgot your password:\n\n1. Open the sign-in page and choose "
                "**Forgot password**.\n2. Enter the email address of your account.\n3. Follow "
                "the link in the email within **30 minutes**.\n\nNo email? Check the spam "
                "folder, then ask us to confirm the address on file.",
                5,
            ),
            (
                "Account locked after failed sign-ins",
                "public",
                "Five failed sign-ins in a row lock the account for **15 minutes**. Wait, or "
                "reset the password: a password reset unlocks the account at once.\n\n"
                "> Agents: never unlock by hand without checking the caller's identity.",
                3,
            ),
            (
                "Set up two-factor authentication",
                "public",
                "Open *Profile › Security*, choose **Enable two-factor** and scan the code "
                "with an authenticator app (Google Authenticator, 1Password, Authy). Keep the "
                "recovery codes somewhere safe.",
                2,
            ),
            (
                "Verify a caller's identity",
                "internal",
                "Before changing anything on an account over the phone, confirm **two** of:\n\n"
                "- the billing postcode\n- the last invoice number\n- the account owner's "
                "email\n\nNever read out a password, a recovery code or card digits.",
                4,
            ),
        ],
    ),
    (
        "Billing & invoices",
        "Invoices, refunds, payment methods, VAT",
        [
            (
                "Change the invoice address",
                "public",
                "Administrators change the invoice address under *Settings › Billing*. The "
                "new address applies to the **next** invoice; ask us to reissue an earlier "
                "one.",
                2,
            ),
            (
                "Refund policy",
                "public",
                "| Case | Refund |\n|---|---|\n| Cancelled within 14 days | Full |\n"
                "| Annual plan, later | Pro rata, unused months |\n| Services delivered | "
                "None |\n\nRefunds go back to the original payment method within 5–10 "
                "working days.",
                6,
            ),
            (
                "Update a payment card",
                "public",
                "Go to *Settings › Billing › Payment method* and choose **Replace card**. A "
                "failed payment is retried automatically within 24 hours of the change.",
                1,
            ),
            (
                "Issue a credit note",
                "internal",
                "Credit notes need a manager's approval above **€500**. Create it from the "
                "order, pick the lines to credit, and attach the case number in the note.",
                0,
            ),
        ],
    ),
    (
        "Orders & delivery",
        "Tracking, returns, damaged goods",
        [
            (
                "Track a delivery",
                "public",
                "The dispatch email holds the tracking link. Orders ship within **2 working "
                "days**; tracking starts when the carrier scans the parcel.",
                3,
            ),
            (
                "Return a product",
                "public",
                "Unused products can be returned within 30 days. Request a return label from "
                "the order page, pack the product in its original box and drop it at any "
                "carrier point.",
                2,
            ),
            (
                "Damaged or missing items",
                "internal",
                "Ask for a photo of the parcel and the damage, then send a replacement "
                "without waiting for the return. Log the carrier claim in the case note.",
                1,
            ),
            (
                "Change a delivery address after ordering",
                "public",
                "Until the order ships, change the address on the order page. Once shipped, "
                "the carrier's tracking page offers a redirect for most parcels.",
                0,
            ),
        ],
    ),
    (
        "Integrations & API",
        "API tokens, webhooks, imports",
        [
            (
                "Create a personal API token",
                "public",
                "Open *Profile › API tokens* and choose **New token**. The secret shows "
                "once: copy it then. Send it as `Authorization: Bearer <token>`.",
                2,
            ),
            (
                "Webhook deliveries failing",
                "internal",
                "Check the endpoint answers `2xx` within 10 seconds. Deliveries are retried "
                "with back-off for 24 hours; the webhook page lists each attempt's status.",
                1,
            ),
            (
                "Import contacts from a CSV file",
                "public",
                "Use *Imports › New import*, upload the CSV (UTF-8), map the columns and run "
                "a **dry run** first: it reports every row it would reject and why.",
                3,
            ),
        ],
    ),
]


def demo_knowledge(*, admin: User, writers: list[User]) -> int:
    """Categories and published articles, with a few helpful votes; returns the articles."""
    from rapport.knowledge.models import ArticleStatus
    from rapport.knowledge.services import article_create, article_vote, kb_category_create

    voters = [admin, *writers]
    count = 0
    for position, (name, description, articles) in enumerate(SHELVES):
        category = kb_category_create(
            actor=admin, name=name, description=description, position=position
        )
        for i, (title, visibility, body, votes) in enumerate(articles):
            article = article_create(
                actor=writers[(position + i) % len(writers)],
                title=title,
                body=body,
                category=category,
                visibility=visibility,
                status=ArticleStatus.PUBLISHED,
            )
            for voter in voters[:votes]:
                article_vote(article=article, helpful=True, user=voter)
            count += 1
    return count
