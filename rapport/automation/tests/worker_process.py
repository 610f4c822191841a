"""A real automation worker in its own process, for the worker-kill test.

Run as `python -m rapport.automation.tests.worker_process` with DATABASE_URL pointing at the
test database and AUTOMATION_RUN_LEASE_SECONDS set short. It registers two test-only actions
and loops like the worker (claim due runs, execute them) until no run is left to finish:

- `test_mark` logs a note on the run's contact (not idempotent: a repeated step would show
  as a second note);
- `test_block` logs a note "block", then writes `entered-<pid>` in AUTOMATION_TEST_DIR and,
  while AUTOMATION_TEST_BLOCK=1, waits there (uncommitted) until a file `release` appears in
  that folder, so the test can SIGKILL the process between the claim and the step's commit,
  or let its lease expire and release it after another worker took the run over.
"""

import os
import sys
import time
from pathlib import Path


def _note(ctx, subject: str) -> dict:
    from rapport.activities.services import activity_log

    activity, _ = activity_log(
        actor=ctx.actor,
        kind="note",
        fields={"subject": subject, "body": subject},
        links={"contact_id": ctx.subject.pk},
    )
    return {"activity_id": activity.pk}


def register() -> None:
    from rapport.automation.actions import ActionSpec, register_action

    folder = Path(os.environ["AUTOMATION_TEST_DIR"])

    def mark(ctx, params):
        return _note(ctx, params.get("label") or "mark")

    def block(ctx, params):
        out = _note(ctx, "block")
        (folder / f"entered-{os.getpid()}").write_text(str(ctx.run.pk))
        while os.environ.get("AUTOMATION_TEST_BLOCK") == "1" and not (folder / "release").exists():
            time.sleep(0.05)
        return out

    register_action(ActionSpec("test_mark", "Test mark", mark), replace=True)
    register_action(ActionSpec("test_block", "Test block", block), replace=True)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
    import django

    django.setup()
    from rapport.automation import engine
    from rapport.automation.models import Run, RunState

    register()
    deadline = time.monotonic() + float(os.environ.get("AUTOMATION_TEST_TIMEOUT", "60"))
    open_states = [RunState.PENDING, RunState.RUNNING, RunState.WAITING]
    while time.monotonic() < deadline:
        engine.execute_due_runs()
        if not Run.objects.filter(state__in=open_states).exists():
            return 0
        time.sleep(0.2)
    return 3


if __name__ == "__main__":
    sys.exit(main())
