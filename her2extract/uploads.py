"""The files of a multipart upload, read from the request body as it arrives, within bounds.

The size limits hold on the bytes received, whether the client sent a Content-Length or a
chunked body: a file that passes its limit stops the reading there (the rest of the body is
never read), so a 600 MB upload costs at most the limit. Files are kept in memory only, never
written anywhere, and forgotten with the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import AsyncIterator

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header


class UploadRefused(Exception):
    """The upload breaks a bound or is not a file upload: answer `status` with `detail`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)  # grown in place: no second copy at the end


async def read_files(content_type: str, body: AsyncIterator[bytes], *, field_name: str, max_bytes: int,
                     max_files: int, max_other: int = 64 * 1024) -> list[tuple[str, bytearray]]:
    """(file name, bytes) of each part named `field_name` that carries a file name.

    Raises UploadRefused: 413 as soon as a file passes `max_bytes` or a part beyond the
    `max_files`-th file begins, or other fields pass `max_other` bytes in all; 422 when the
    body is not multipart, is cut short, or holds no file (a part named `field_name` without
    a file name is a plain field, not a file).
    """
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRefused(422, "send the reports as multipart/form-data, each in a part named 'files'")
    files: list[tuple[str, bytearray]] = []
    other = 0
    state: dict = {"part": None, "header": b"", "value": b"", "done": False}

    def on_part_begin() -> None:
        state["part"] = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["part"].headers[state["header"].lower()] = state["value"]
        state["header"] = state["value"] = b""

    def on_headers_finished() -> None:
        part: _Part = state["part"]
        _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in disposition:
            part.filename = disposition[b"filename"].decode("utf-8", "replace")
            if part.name == field_name and len(files) >= max_files:
                raise UploadRefused(413, f"too many files (at most {max_files} at a time)")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal other
        part: _Part = state["part"]
        if part.filename is not None and part.name == field_name:
            if len(part.data) + end - start > max_bytes:
                raise UploadRefused(413, f"{_shown(part.filename)}: file too large "
                                         f"(limit {max_bytes / 1024 / 1024:.0f} MB)")
            part.data += memoryview(data)[start:end]
        else:  # a plain field, or a file under another name: counted, not kept
            other += end - start
            if other > max_other:
                raise UploadRefused(413, "too much besides the files")

    def on_part_end() -> None:
        part: _Part = state["part"]
        if part.name == field_name:
            if part.filename is None:
                raise UploadRefused(422, f"the '{field_name}' part holds no file (a plain field)")
            files.append((part.filename, part.data))
        state["part"] = None

    def on_end() -> None:
        state["done"] = True

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end, "on_end": on_end})
    try:
        async for chunk in body:
            if chunk:
                parser.write(chunk)
            if state["done"]:
                break
    except UploadRefused:
        raise
    except Exception as exc:  # the parser's own complaints: a damaged body
        raise UploadRefused(422, f"the upload could not be read ({type(exc).__name__})") from None
    if not state["done"]:
        raise UploadRefused(422, "the upload was cut short")
    if not files:
        raise UploadRefused(422, f"no file uploaded (send each report in a part named '{field_name}')")
    return files


def base_name(name: str) -> str:
    """An uploaded file's name as it may be shown: its last path part, at most 200 characters."""
    return name.replace("\\", "/").rsplit("/", 1)[-1][:200]


def _shown(name: str) -> str:
    return base_name(name) or "a file"
