"""Which storage keeps the files (STORAGES["default"]), read from the environment by settings.py.

No Django imports: settings.py calls `default_storage_from_env` while it is being loaded.

- `RAPPORT_FILE_STORAGE=local` (default): a folder, `MEDIA_ROOT` (`RAPPORT_MEDIA_DIR`).
- `RAPPORT_FILE_STORAGE=s3`: an S3-compatible store through django-storages (the optional
  extra `rapport[s3]`): `RAPPORT_S3_BUCKET` (required), `RAPPORT_S3_ENDPOINT_URL` (MinIO,
  Ceph, Scaleway, … empty for AWS), `RAPPORT_S3_REGION`, `RAPPORT_S3_ACCESS_KEY_ID`,
  `RAPPORT_S3_SECRET_ACCESS_KEY` (empty: boto3's own chain — instance role, env, files),
  `RAPPORT_S3_PREFIX` (a folder inside the bucket), `RAPPORT_S3_URL_SECONDS` (how long a
  download link lives, default 60).

Objects are private: a download is checked by Rapport first, then redirected to a signed URL
that expires after `RAPPORT_S3_URL_SECONDS`; nothing is ever public-read.
"""

from collections.abc import Mapping

LOCAL = "local"
S3 = "s3"
S3_BACKEND = "storages.backends.s3.S3Storage"
LOCAL_BACKEND = "django.core.files.storage.FileSystemStorage"


def file_storage_kind(environ: Mapping[str, str]) -> str:
    kind = (environ.get("RAPPORT_FILE_STORAGE") or LOCAL).strip().lower()
    if kind not in (LOCAL, S3):
        raise RuntimeError(f"RAPPORT_FILE_STORAGE must be 'local' or 's3', not {kind!r}")
    return kind


def default_storage_from_env(environ: Mapping[str, str]) -> dict:
    """The STORAGES["default"] entry the environment asks for (raises RuntimeError, naming the
    variable, when the S3 configuration is incomplete or django-storages is missing)."""
    if file_storage_kind(environ) == LOCAL:
        return {"BACKEND": LOCAL_BACKEND}
    try:
        import storages.backends.s3  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            "RAPPORT_FILE_STORAGE=s3 needs django-storages and boto3: "
            "pip install 'rapport[s3]' (or 'django-storages[s3]')"
        ) from exc
    bucket = (environ.get("RAPPORT_S3_BUCKET") or "").strip()
    if not bucket:
        raise RuntimeError("RAPPORT_FILE_STORAGE=s3 needs RAPPORT_S3_BUCKET")
    options = {
        "bucket_name": bucket,
        "location": (environ.get("RAPPORT_S3_PREFIX") or "").strip().strip("/"),
        # Private objects, reachable only through a short-lived signed URL handed out after
        # Rapport's own visibility check.
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": int(environ.get("RAPPORT_S3_URL_SECONDS") or 60),
        # Names are content hashes: the same name always holds the same bytes.
        "file_overwrite": True,
        "signature_version": "s3v4",
    }
    for variable, option in (
        ("RAPPORT_S3_ENDPOINT_URL", "endpoint_url"),
        ("RAPPORT_S3_REGION", "region_name"),
        ("RAPPORT_S3_ACCESS_KEY_ID", "access_key"),
        ("RAPPORT_S3_SECRET_ACCESS_KEY", "secret_key"),
    ):
        value = (environ.get(variable) or "").strip()
        if value:
            options[option] = value
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}
