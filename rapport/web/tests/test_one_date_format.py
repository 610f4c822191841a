"""Every page shows dates in the user's locale format through the `day` / `moment` filters
(issue 9 item 16): no template formats a date for display with Django's own formats."""

import re
from pathlib import Path

import rapport

SERVER_FORMATS = re.compile(
    r"""\|date:\s*["'](SHORT_DATE_FORMAT|DATE_FORMAT|DATETIME_FORMAT|SHORT_DATETIME_FORMAT)["']"""
)


def test_no_template_formats_dates_itself():
    root = Path(rapport.__file__).parent
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for path in root.glob("*/templates/**/*.html")
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if SERVER_FORMATS.search(line)
    ]
    assert not offenders, f"use |day or |moment instead: {offenders}"
