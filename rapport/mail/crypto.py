"""Encryption of mailbox credentials at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from the environment, never from SECRET_KEY:

- `RAPPORT_MAIL_KEY`: one or more Fernet keys separated by commas; the first encrypts, all
  decrypt (rotate by putting the new key first, re-saving the mailboxes, then dropping the
  old one). Generate one with
  `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.
- Without it, in development only (`RAPPORT_DEV=1`, what `make run` sets), a key is generated
  once into `var/mail.key` (file mode 0600) and a warning says so. In production a missing key
  is an error the moment a credential is read or written.
"""

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)


class CredentialUnreadable(Exception):
    """The stored secret cannot be decrypted with the configured keys (key changed or lost)."""


def _dev_key_file() -> Path:
    return Path(settings.BASE_DIR) / "var" / "mail.key"


def _keys() -> list[bytes]:
    configured = getattr(settings, "RAPPORT_MAIL_KEY", "") or os.environ.get("RAPPORT_MAIL_KEY", "")
    keys = [k.strip().encode() for k in configured.split(",") if k.strip()]
    if keys:
        return keys
    if not getattr(settings, "RAPPORT_DEV", False):
        raise ImproperlyConfigured(
            "RAPPORT_MAIL_KEY is not set: mailbox passwords cannot be encrypted. See README.md."
        )
    path = _dev_key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
        log.warning(
            "RAPPORT_MAIL_KEY is not set: generated a development key in %s to encrypt "
            "mailbox passwords. Set RAPPORT_MAIL_KEY in production.",
            path,
        )
    return [path.read_bytes().strip()]


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in _keys()])


def encrypt_secret(plain: str) -> str:
    if not plain:
        return ""
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_secret(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialUnreadable(
            "The stored password cannot be decrypted with RAPPORT_MAIL_KEY; enter it again."
        ) from exc
