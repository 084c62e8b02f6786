"""Media types: request Content-Type checks and Accept negotiation (GS CIM 009 6.3.4)."""

from __future__ import annotations

from broker.ngsild.errors import HttpError

JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"

#: the spec's preference order, used to break ties whatever the client's order

def request_media_type(content_type: str | None, *, merge_patch: bool = False) -> str:
    """JSON or JSON_LD for a body-bearing request; 415 for anything else."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == JSON or (merge_patch and media == MERGE_PATCH):
        return JSON
    if media == JSON_LD:
        return JSON_LD
    allowed = f"{JSON}, {JSON_LD}" + (f" or {MERGE_PATCH}" if merge_patch else "")
    raise HttpError(415, "Unsupported media type",
                    f"Content-Type {content_type or '(none)'!r} is not supported; use {allowed}")


def _parse_accept(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        quality = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media, quality))
    return ranges


def _quality(media: str, ranges: list[tuple[str, float]]) -> float | None:
    """Quality the client gives `media` by its most specific matching range, None if unmatched."""
    main = media.split("/", 1)[0]
    best: tuple[int, float] | None = None
    for pattern, quality in ranges:
        if pattern == media:
            specificity = 3
        elif pattern == f"{main}/*":
            specificity = 2
        elif pattern == "*/*":
            specificity = 1
        else:
            continue
        if best is None or specificity > best[0]:
            best = (specificity, quality)
    return None if best is None else best[1]


def negotiate(accept: str | None, offered: tuple[str, ...] = (JSON, JSON_LD)) -> str:
    """The response media type for an Accept header among `offered` (in the server's order of
    preference, which breaks ties of quality); 406 if none is acceptable."""
    if not accept or not accept.strip():
        return JSON
    ranges = _parse_accept(accept)
    scored = []
    for media in offered:
        quality = _quality(media, ranges)
        if quality is not None and quality > 0:
            scored.append((-quality, offered.index(media), media))
    if not scored:
        raise HttpError(406, "Not acceptable",
                        f"None of the media types in Accept {accept!r} can be produced; "
                        f"offered: {', '.join(offered)}")
    return min(scored)[2]
