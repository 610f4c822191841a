"""Campaign workers in their own processes, for the kill test (python -m ... <mode>).

run:    print "ready", then dispatch and send until the campaign is fully handed over and the
        outbox is empty (waiting out the leases of killed predecessors), then print a summary.
serve:  load Django and the URL configuration once, print "ready", then for every "run" line
        on stdin fork a worker process that does what `run` does (no start-up of its own:
        a kill lands in the sending), print its pid, and when it ends print its summary (if it
        finished) and its exit status (killed or done). Every line is a JSON object: {"ready"}, {"pid"}, {"summary"},
        {"exited", "status"}.
"""

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings_test")

import django  # noqa: E402

django.setup()

from rapport.campaigns.models import CampaignRecipient, RecipientState  # noqa: E402
from rapport.campaigns.services import dispatch_due  # noqa: E402
from rapport.mail.models import Delivery, DeliveryState  # noqa: E402
from rapport.mail.sender import send_due  # noqa: E402

WAITING = (RecipientState.PENDING, RecipientState.CLAIMED, RecipientState.HELD)
UNSENT = (DeliveryState.QUEUED, DeliveryState.SENDING)


def summary() -> dict:
    rows = CampaignRecipient.objects.values_list("state", "message__message_id")
    deliveries = Delivery.objects.values_list("state", "last_error")
    return {
        "recipients": len(rows),
        "recipient_states": sorted({s for s, _ in rows}),
        "message_ids": [m for _, m in rows if m],
        "delivery_states": sorted({s for s, _ in deliveries}),
        "resent_notes": sum(1 for _, e in deliveries if "sent again" in (e or "")),
    }


def _load_urls() -> None:
    # Load the URL configuration first (tracked links are reversed): the kills must land in
    # the sending, not in the imports.
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018


def _say(**line) -> None:
    print(json.dumps(line), flush=True)


def send_all() -> dict:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        handed = dispatch_due(batch=100, max_batches=1)
        sent = send_due(limit=50, max_batches=2)
        if handed or sent:
            continue
        waiting = CampaignRecipient.objects.filter(state__in=WAITING).exists()
        unsent = Delivery.objects.filter(state__in=UNSENT).exists()
        if not waiting and not unsent:
            break
        time.sleep(0.1)  # a killed worker's lease is running out
    return summary()


def serve() -> None:
    from django.db import connections

    _load_urls()
    connections.close_all()  # each worker opens its own
    _say(ready=True)
    for command in sys.stdin:
        if command.strip() != "run":
            continue
        sys.stdout.flush()
        # The worker hands its summary over in a file, never on stdout: only this process
        # writes stdout, so a worker that finishes at once cannot interleave its (100 kB)
        # summary with the pid line (the pipe makes no promise for writes over 4 kB).
        with tempfile.NamedTemporaryFile(prefix="worker-summary-", delete=False) as result:
            pass  # only its name: the worker writes it, this process reads and removes it
        pid = os.fork()
        if pid == 0:  # the worker: it sends, and ends without running the server's exit code
            status = 0
            try:
                with open(result.name, "w") as out:
                    json.dump(send_all(), out)
            except BaseException:
                import traceback

                traceback.print_exc()
                status = 1
            finally:
                sys.stderr.flush()
                os._exit(status)
        _say(pid=pid)
        _, status = os.waitpid(pid, 0)
        with open(result.name) as written:
            text = written.read()
        os.unlink(result.name)
        status = os.waitstatus_to_exitcode(status)
        if status == 0 and text:  # killed mid-write leaves a partial file: no summary then
            _say(summary=json.loads(text))
        _say(exited=pid, status=status)


def main(mode: str) -> None:
    if mode == "serve":
        serve()
        return
    _load_urls()
    _say(ready=True)
    print(json.dumps(send_all()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run")
