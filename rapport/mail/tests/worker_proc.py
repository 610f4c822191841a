"""A worker in its own process, for the tests that kill one (python -m ... <mode>).

claim-and-hang: claim every due delivery, print their ids, then wait to be killed.
send:           run the sender once, print the deliveries' states as JSON.
"""

import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings_test")

import django  # noqa: E402

django.setup()

from rapport.mail.models import Delivery  # noqa: E402
from rapport.mail.sender import claim_due, new_claim_id, send_due  # noqa: E402


def main(mode: str) -> None:
    if mode == "claim-and-hang":
        ids = claim_due(claim_id=new_claim_id(), limit=100)
        print(json.dumps({"claimed": ids}), flush=True)
        while True:
            time.sleep(1)
    elif mode == "send":
        send_due()
    rows = Delivery.objects.order_by("id").values("id", "state", "attempts", "last_error")
    print(json.dumps({"deliveries": list(rows)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
