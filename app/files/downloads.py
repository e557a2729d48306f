"""CSV downloads of a file's content: the attachment's name, revalidation by ETag (304
while unchanged), and what the content routes document about both."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from litestar import Response
from litestar.datastructures import ETag, ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter
from litestar.response import File

from app.sync.csv_store import EMPTY_SHA256

# What the two content routes document besides their CSV body. Litestar types a header by
# its `value`; with documentation_only the value is never sent.
CSV_HEADERS = [
    ResponseHeader(
        name="ETag",
        value=f'"{EMPTY_SHA256}"',
        documentation_only=True,
        required=True,
        description="The content's SHA-256 (the file's `checksum`), quoted; send it back as "
        "If-None-Match to get a 304 while it is unchanged",
    ),
    ResponseHeader(
        name="Content-Disposition",
        value="attachment; filename=\"sales-data.csv\"; filename*=UTF-8''sales-data.csv",
        documentation_only=True,
        required=True,
        description="attachment, with the file's name (`filename*` in UTF-8)",
    ),
]
NOT_MODIFIED = {
    304: ResponseSpec(
        data_container=None,
        description="Not modified: If-None-Match names the current ETag; no body",
    )
}
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        description="An ETag from an earlier download: 304 without a body if it is current",
    ),
]


def attachment_disposition(name: str) -> str:
    """`Content-Disposition` for a download named `name` (RFC 6266): the exact name as UTF-8
    in `filename*` (RFC 5987), and an ASCII `filename` for clients that only read that one.
    Header values are Latin-1 on the wire, so `日本語.csv` cannot go in `filename` as is.

    Litestar's `File(filename=...)` is not used for this: for a non-ASCII name it sends
    `filename*` alone, and it leaves `"` unescaped in `filename`."""
    name = name.replace("\r", "").replace("\n", "")
    # "données €.csv" -> "donnees _.csv": accents dropped, the rest replaced.
    ascii_name = "".join(
        unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode() or "_"
        for char in name
    )
    fallback = "".join(c if c.isprintable() else "_" for c in ascii_name)
    fallback = fallback.replace("\\", "\\\\").replace('"', '\\"')
    # RFC 5987 attr-chars stay as they are; everything else is percent-encoded UTF-8.
    encoded = quote(name, safe="!#$&+^`|")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def csv_response(
    if_none_match: str | None, path: Path | None, checksum: str, name: str
) -> Response[bytes]:
    etag = f'"{checksum}"'
    if (if_none_match or "").strip() in {etag, checksum, f"W/{etag}"}:
        return Response(content=b"", status_code=304, headers={"ETag": etag})
    headers = {"Content-Disposition": attachment_disposition(name)}
    if path is None:
        return Response(content=b"", media_type="text/csv", headers={**headers, "ETag": etag})
    return File(path=path, media_type="text/csv", etag=ETag(value=checksum), headers=headers)
