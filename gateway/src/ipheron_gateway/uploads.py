"""Reading an uploaded file from a request, as clients send it.

Two forms, the same bytes either way (so the same CID):

- `multipart/form-data` (`curl -F file=@x.png`, a browser form, `httpx files=`): the
  part named `file`, else the one part with a filename. It is parsed as it streams
  (python-multipart); the filename and content type come from the part's headers.
- anything else: the raw body is the content; the request's Content-Type is its type
  and `?filename=` names it.

Content is bounded while it streams: more than `max_bytes` is a 413 before the rest
is read (the body-limit middleware also bounds the whole request).
"""

from __future__ import annotations

from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from ipheron_gateway.config import MAX_FILE_BYTES
from ipheron_gateway.problems import Problem

MULTIPART = b"multipart/form-data"
FILE_FIELD = "file"
# Multipart documentation for OpenAPI, beside the raw form.
UPLOAD_CONTENT: dict[str, object] = {
    "multipart/form-data": {"schema": {
        "type": "object", "required": [FILE_FIELD],
        "properties": {FILE_FIELD: {"type": "string", "format": "binary",
                                    "description": "the file; its filename and Content-Type name it"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                            "description": "the raw content (any Content-Type)"}},
}


@dataclass(frozen=True)
class Upload:
    """One uploaded file."""

    content: bytes
    filename: str
    content_type: str


def media_type(request: Request) -> bytes:
    """The request's media type, lower case, without parameters."""
    media, _ = parse_options_header(request.headers.get("content-type", ""))
    return media.lower()


async def read_upload(request: Request, *, filename: str = "", max_bytes: int = MAX_FILE_BYTES) -> Upload:
    """The uploaded file, from a multipart form or the raw body."""
    media, params = parse_options_header(request.headers.get("content-type", ""))
    if media.lower() == MULTIPART:
        return await _read_multipart(request, params.get(b"boundary"), filename, max_bytes)
    return Upload(await _read_raw(request, max_bytes), filename, request.headers.get("content-type", ""))


def _too_large(max_bytes: int) -> Problem:
    return Problem(413, f"the file is larger than {max_bytes} bytes")


async def _read_raw(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    content = bytearray()
    async for chunk in request.stream():  # bounded read: never buffer more than the limit
        content.extend(chunk)
        if len(content) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(content)


class _FilePart:
    """Parser callbacks that keep the file part's bytes and headers, and skip the rest."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.content = bytearray()
        self.filename: str | None = None
        self.content_type = ""
        self.found = 0  # file parts seen
        self.ended = False
        self._in_file = False
        self._headers: dict[bytes, bytes] = {}
        self._field = bytearray()
        self._value = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._data,
                "on_part_end": self._part_end, "on_end": self._end}

    def _part_begin(self) -> None:
        self._headers = {}
        self._in_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field.extend(data[start:end])

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value.extend(data[start:end])

    def _header_end(self) -> None:
        self._headers[bytes(self._field).strip().lower()] = bytes(self._value).strip()
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        has_filename = b"filename" in disposition
        if name != FILE_FIELD and not has_filename:
            return  # a plain form field: ignored
        self.found += 1
        if self.found > 1:
            raise Problem(400, "send one file per request", errors=[{"field": FILE_FIELD,
                                                                     "message": "more than one file part"}])
        self._in_file = True
        self.filename = disposition[b"filename"].decode("utf-8", "replace") if has_filename else ""
        self.content_type = self._headers.get(b"content-type", b"application/octet-stream").decode("latin-1")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.content.extend(data[start:end])
            if len(self.content) > self.max_bytes:
                raise _too_large(self.max_bytes)

    def _part_end(self) -> None:
        self._in_file = False

    def _end(self) -> None:
        self.ended = True


async def _read_multipart(request: Request, boundary: bytes | None, filename: str, max_bytes: int) -> Upload:
    if not boundary:
        raise Problem(400, "multipart/form-data needs a boundary parameter")
    part = _FilePart(max_bytes)
    parser = MultipartParser(boundary, part.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError:
        raise Problem(400, "malformed multipart/form-data body") from None
    if not part.ended:
        raise Problem(400, "incomplete multipart/form-data body (no closing boundary)")
    if not part.found:
        raise Problem(400, f"the multipart form has no '{FILE_FIELD}' part",
                      errors=[{"field": FILE_FIELD, "message": "required"}])
    return Upload(bytes(part.content), part.filename or filename, part.content_type)
