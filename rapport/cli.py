"""The `rapport` console script: a friendlier manage.py.

rapport serve [--workers N]   run gunicorn (production; the worker and scheduler run apart)
rapport run [ADDR:PORT]       web server + task worker + scheduler in one command (development,
                              small installs; what `make run` starts; `serve --dev` does the same)
rapport migrate               apply database migrations
rapport demo                  load demo data into an empty database
rapport worker                run the background task worker (database or RQ backend)
rapport scheduler             enqueue the periodic jobs when due
rapport <any manage.py command> …
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
    command = argv[0] if argv else "help"
    rest = argv[1:]

    if command == "serve" and "--dev" not in rest:
        workers = "4"
        if "--workers" in rest:
            workers = rest[rest.index("--workers") + 1]
        bind = os.environ.get("BIND", "127.0.0.1:8000")
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        os.execv(  # noqa: S606 - gunicorn of the same virtualenv, no shell involved
            gunicorn,
            [
                "gunicorn",
                "rapport.wsgi:application",
                "--workers",
                workers,
                "--bind",
                bind,
                "--access-logfile",
                "-",
            ],
        )

    from django.core.management import execute_from_command_line

    if command == "serve":
        execute_from_command_line(["rapport", "run", os.environ.get("BIND", "127.0.0.1:8000")])
    elif command == "demo":
        execute_from_command_line(["rapport", "demo_data", *rest])
    elif command == "worker":
        from django.conf import settings

        if settings.TASK_BACKEND == "rq":
            execute_from_command_line(
                ["rapport", "rqworker", "--job-class", "django_tasks_rq.Job", *rest]
            )
        else:
            execute_from_command_line(["rapport", "db_worker", *rest])
    elif command in ("help", "-h", "--help"):
        print(__doc__)
    else:
        execute_from_command_line(["rapport", *argv])


if __name__ == "__main__":
    main()
