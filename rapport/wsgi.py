import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
application = get_wsgi_application()


def _freeze_startup_objects() -> None:
    """Load the URLconf (every API router, schema and view) now instead of on the first
    request, then take everything loaded so far out of the cyclic garbage collector's
    sight (`gc.freeze`). Those objects live as long as the worker; without this, each full
    collection walked all of them (a ~350 MB heap per worker): one request in a few
    hundred paid ~300 ms of CPU for it (issue 17, bench_api_cpu.py --gc-freeze)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports rapport.urls and the API
    gc.collect()
    gc.freeze()


_freeze_startup_objects()
