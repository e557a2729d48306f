"""CSV downloads of a file's content: the attachment's name, revalidation by ETag (304
while unchanged), the bytes streamed from the storage backend or a redirect to it, and what
the content routes document about all of that."""

from __future__ import annotations

import logging
import unicodedata
from datetime import timedelta
from email.utils import format_datetime
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Response
from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import Stream

from app.errors import not_found
from app.storage.objects import ObjectStore, StorageUnavailable
from app.sync.csv_store import EMPTY_SHA256

log = logging.getLogger("datasync.api")

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
DOWNLOAD_ANSWERS = {
    304: ResponseSpec(
        data_container=None,
        description="Not modified: If-None-Match names the current ETag; no body",
    ),
    307: ResponseSpec(
        data_container=None,
        description="With ?redirect=true and files kept in an object store: the CSV is at "
        "the short-lived presigned URL in Location (STORAGE_PRESIGN_SECONDS); no body",
    ),
}
Redirected = Annotated[
    bool,
    QueryParameter(
        description="Answer 307 to a short-lived presigned URL of the object store instead of "
        "sending the bytes through the API (large files); where files are kept on the "
        "service's own disk the CSV is sent as usual"
    ),
]
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


async def csv_response(
    objects: ObjectStore,
    if_none_match: str | None,
    key: str | None,
    checksum: str,
    name: str,
    redirect_for: timedelta | None = None,
) -> Response[Any]:
    """The CSV under `key` (None: no version yet, an empty body), streamed in chunks; or 304
    while `if_none_match` names it; or, given `redirect_for`, a 307 to a URL valid that long
    when the backend can sign one."""
    etag = f'"{checksum}"'
    if (if_none_match or "").strip() in {etag, checksum, f"W/{etag}"}:
        return Response(content=b"", status_code=304, headers={"ETag": etag})
    headers = {"Content-Disposition": attachment_disposition(name), "ETag": etag}
    if key is None:
        return Response(content=b"", media_type="text/csv", headers=headers)
    if redirect_for is not None:
        url = await _signed_url(objects, key, redirect_for)
        if url is not None:
            # Never cached: the URL expires, the ETag does not.
            return Response(
                content=b"",
                status_code=307,
                headers={"Location": url, "ETag": etag, "Cache-Control": "no-store"},
            )
    try:
        stored = await objects.open(key)
    except FileNotFoundError:
        raise not_found("This version's content (pruned meanwhile)") from None
    headers["Content-Length"] = str(stored.size)
    headers["Last-Modified"] = format_datetime(stored.last_modified, usegmt=True)
    return Stream(stored.chunks, media_type="text/csv", headers=headers)


async def _signed_url(objects: ObjectStore, key: str, expires_in: timedelta) -> str | None:
    """A presigned URL of `key`, or None when the store cannot sign one: a local folder, or
    credentials that cannot sign (GCS through a token of the machine's, with no key to sign
    with). The redirect is an optimisation; the bytes can still go through the API."""
    try:
        return await objects.presigned_url(key, expires_in)
    except StorageUnavailable as error:
        log.warning("sending a download through the API: %s", error)
        return None
