"""Attachment rules (pure): which content types are accepted and what they are, names, keys."""

from __future__ import annotations

import hashlib

ALLOWED_TYPES = {
    "image/jpeg": "photo", "image/png": "photo", "image/gif": "photo", "image/webp": "photo",
    "image/heic": "photo", "image/heif": "photo", "image/bmp": "photo",
    "audio/mpeg": "audio", "audio/mp4": "audio", "audio/x-m4a": "audio", "audio/m4a": "audio",
    "audio/x-wav": "audio", "audio/wav": "audio", "audio/amr": "audio", "audio/ogg": "audio",
    "audio/aac": "audio", "audio/x-flac": "audio",
    "video/mp4": "video", "video/quicktime": "video", "video/3gpp": "video",
    "application/pdf": "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "document",
    "application/msword": "document", "application/vnd.ms-excel": "document",
}


def clean_filename(name: str | None) -> str | None:
    return "".join(ch for ch in (name or "") if ch.isprintable())[:200] or None


def request_hash(data: bytes, filename: str | None) -> str:
    return hashlib.sha256(data + b"\0" + (filename or "").encode()).hexdigest()


def content_key(data: bytes) -> tuple[str, str]:
    """(sha256, storage key): content-addressed, so the same bytes are stored once."""
    digest = hashlib.sha256(data).hexdigest()
    return digest, f"{digest[:2]}/{digest}"


def detect_type(data: bytes) -> str | None:
    """The content type from the bytes themselves (never the client's claim)."""
    import filetype

    kind = filetype.guess(data)
    return kind.mime if kind else None
