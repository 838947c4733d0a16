"""Attachments: PDF only, size-limited, encrypted at rest with the portal's field keys (SPEC 2.5).

The associated data names the attachment's own id, so a ciphertext copied onto another row does not
decrypt. Plaintext never reaches a log or an error message.
"""

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portal.core.crypto import NONCE_BYTES, DecryptionError, field_cipher
from portal.core.errors import PortalError

PDF_CONTENT_TYPE = "application/pdf"
_FILENAME = re.compile(r"[^\\/\x00-\x1f\x7f]{1,116}\.pdf", re.IGNORECASE)


@dataclass(frozen=True)
class CheckedAttachment:
    filename: str
    content: bytes
    sha256: str


def _refuse(code: str, ja: str, en: str, index: int, status: int = 422) -> PortalError:
    return PortalError(code, ja, en, status, extra={"field": f"attachments[{index}]"})


def attachment_check(
    *, index: int, filename: str, content_type: str, content_base64: str, max_bytes: int
) -> CheckedAttachment:
    """The decoded PDF, or a PortalError saying what is wrong with attachment number ``index``."""
    if not _FILENAME.fullmatch(filename or ""):
        raise _refuse(
            "attachment_filename",
            f"添付ファイル{index + 1}の名前が正しくありません（.pdf で終わる120文字以内の名前）。",
            f"Attachment {index + 1} has an invalid file name (at most 120 characters, ending in .pdf).",
            index,
        )
    if (content_type or "").split(";")[0].strip().lower() != PDF_CONTENT_TYPE:
        raise _refuse(
            "attachment_type",
            f"添付ファイル{index + 1}はPDFではありません。添付できるのはPDFだけです。",
            f"Attachment {index + 1} is not a PDF. Only PDF files can be attached.",
            index,
        )
    # Base64 is 4/3 of the size: refuse an oversized file before decoding it.
    if len(content_base64 or "") > (max_bytes + 2) // 3 * 4 + 4:
        raise _too_large(index, max_bytes)
    try:
        content = base64.b64decode(content_base64 or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _refuse(
            "attachment_encoding",
            f"添付ファイル{index + 1}の内容をBase64として読めません。",
            f"Attachment {index + 1} is not valid Base64.",
            index,
        ) from exc
    if len(content) > max_bytes:
        raise _too_large(index, max_bytes)
    if not content.startswith(b"%PDF-") or b"%%EOF" not in content[-1024:]:
        raise _refuse(
            "attachment_type",
            f"添付ファイル{index + 1}の中身がPDFではありません。",
            f"The content of attachment {index + 1} is not a PDF.",
            index,
        )
    return CheckedAttachment(filename=filename, content=content, sha256=hashlib.sha256(content).hexdigest())


def _too_large(index: int, max_bytes: int) -> PortalError:
    megabytes = max_bytes / (1024 * 1024)
    return _refuse(
        "attachment_too_large",
        f"添付ファイル{index + 1}が大きすぎます（上限 {megabytes:g} MB）。",
        f"Attachment {index + 1} is too large (at most {megabytes:g} MB).",
        index,
        status=413,
    )


NOTICE_ATTACHMENT = "notices.NoticeAttachment.ciphertext"


def _context(public_id: object, kind: str = NOTICE_ATTACHMENT) -> bytes:
    return f"{kind}:{public_id}".encode()


def attachment_encrypt(
    content: bytes, *, public_id: object, kind: str = NOTICE_ATTACHMENT
) -> tuple[str, bytes]:
    """(key id, nonce || ciphertext) of the content, bound to the kind of file and its id."""
    cipher = field_cipher()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(cipher.keys[cipher.current_kid]).encrypt(nonce, content, _context(public_id, kind))
    return cipher.current_kid, nonce + sealed


def attachment_decrypt(
    ciphertext: bytes, *, key_id: str, public_id: object, kind: str = NOTICE_ATTACHMENT
) -> bytes:
    cipher = field_cipher()
    if key_id not in cipher.keys:
        raise DecryptionError(f"unknown key id {key_id!r}")
    raw = bytes(ciphertext)
    try:
        return AESGCM(cipher.keys[key_id]).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _context(public_id, kind)
        )
    except InvalidTag as exc:
        raise DecryptionError("authentication tag did not verify") from exc
