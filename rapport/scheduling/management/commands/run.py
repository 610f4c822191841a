"""`manage.py run [ADDR:PORT]` (`make run`): the web server (runserver), the task worker and
the scheduler together, so that imports, analytics refreshes and duplicate scans started
from the UI are carried out. Ctrl-C stops all three. See rapport/scheduling/supervisor.py."""

from django.conf import settings
from django.core.management.base import BaseCommand

from rapport.scheduling.supervisor import Supervisor, background_commands, manage_py_argv


class Command(BaseCommand):
    help = "Run the web server, the background task worker and the scheduler (development)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--noreload",
            action="store_false",
            dest="reload",
            help="do not restart the web server and the worker when the code changes",
        )

    def handle(self, *args, addrport: str, reload: bool, **options):
        reload = reload and settings.DEBUG
        web = manage_py_argv("runserver", addrport, *([] if reload else ["--noreload"]))
        commands = {"web": web, **background_commands(settings.TASK_BACKEND, reload=reload)}
        raise SystemExit(Supervisor(commands, out=self.stdout).run())
