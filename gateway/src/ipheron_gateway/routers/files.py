"""File routes: upload content (stored under its CID v1), read it back, attach it to an asset.

The body of `POST /files` is the raw content (any Content-Type; `?filename=` names it),
at most 4 MiB. The answer's `cid` is what `POST /assets` takes as `ipfs_hash`.
Files are served with `nosniff` and a sandboxing CSP, and as attachments unless they
are media a browser can show safely, so an uploaded page never runs on our origin.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from ipheron.assets.v1 import assets_service_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from ipheron_gateway.deps import CurrentUser, Stubs
from ipheron_gateway.problems import UPSTREAM, Problem, problem_responses
from ipheron_gateway.routers.assets import AssetOut, asset_out

router = APIRouter(tags=["files"])

MAX_FILE_BYTES = 4 * 1024 * 1024
_INLINE = ("image/png", "image/jpeg", "image/gif", "image/webp", "audio/", "video/", "application/pdf", "text/plain")


class FileOut(BaseModel):
    cid: str
    size: int
    content_type: str
    filename: str
    sha256: str
    uploader_user_id: str
    created_at: str
    created: bool | None = None


class AttachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cid: str = Field(min_length=10, max_length=100, pattern=r"^[A-Za-z0-9]+$")


def _file_out(f: pb.StoredFile, created: bool | None = None) -> dict[str, Any]:
    return {"cid": f.cid, "size": f.size, "content_type": f.content_type, "filename": f.filename,
            "sha256": f.sha256, "uploader_user_id": f.uploader_user_id,
            "created_at": f.created_at.ToDatetime(tzinfo=UTC).isoformat().replace("+00:00", "Z"), "created": created}


@router.post("/files", response_model=FileOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": FileOut, "description": "The same bytes were already stored"},
                        **problem_responses(400, 401, 413, 422, *UPSTREAM)},
             summary="Upload content (raw body, at most 4 MiB); 200 when the same bytes were already stored")
async def upload_file(request: Request, user: CurrentUser, stubs: Stubs, response: Response,
                      filename: Annotated[str, Query(max_length=255)] = "") -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_FILE_BYTES:
        raise Problem(413, f"the file is larger than {MAX_FILE_BYTES} bytes")
    content = bytearray()
    async for chunk in request.stream():  # bounded read: never buffer more than the limit
        content.extend(chunk)
        if len(content) > MAX_FILE_BYTES:
            raise Problem(413, f"the file is larger than {MAX_FILE_BYTES} bytes")
    r = await stubs.assets.UploadFile(pb.UploadFileRequest(
        actor=pb.Actor(user_id=user.id, wallet=(user.wallet or "").lower()), filename=filename,
        content_type=request.headers.get("content-type", ""), content=bytes(content)))
    if not r.created:
        response.status_code = status.HTTP_200_OK
    return _file_out(r.file, r.created)


@router.get("/files/{cid}", summary="The stored bytes of a file", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}, 304: {"description": "Not modified"},
                       **problem_responses(400, 404, 422, *UPSTREAM)})
async def get_file(cid: str, stubs: Stubs, request: Request) -> Response:
    if request.headers.get("if-none-match") == f'"{cid}"':
        return Response(status_code=304, headers={"ETag": f'"{cid}"'})
    r = await stubs.assets.GetFile(pb.GetFileRequest(cid=cid, include_content=True))
    f = r.file
    inline = any(f.content_type == t or (t.endswith("/") and f.content_type.startswith(t)) for t in _INLINE)
    safe_name = "".join(ch for ch in f.filename if ch.isalnum() or ch in "._- ") or f.cid
    headers = {
        # Content-addressed: the bytes behind a CID never change.
        "ETag": f'"{f.cid}"', "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox; default-src 'none'",
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{safe_name}"',
    }
    return Response(content=r.content, media_type=f.content_type if inline else "application/octet-stream",
                    headers=headers)


@router.post("/assets/{asset_id}/files", response_model=AssetOut,
             responses=problem_responses(400, 401, 403, 404, 409, 413, 422, *UPSTREAM), summary="Attach an uploaded file (owner only)")
async def attach_file(asset_id: str, body: AttachIn, user: CurrentUser, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.assets.AttachFile(pb.AttachFileRequest(
        actor=pb.Actor(user_id=user.id, wallet=(user.wallet or "").lower()), asset_id=asset_id, cid=body.cid))
    return asset_out(r.asset)
