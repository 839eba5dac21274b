"""File routes: upload content (stored under its CID v1), read it back, attach it to an asset.

`POST /files` takes the content as a `multipart/form-data` file part (`curl -F
file=@cover.png`, a browser form) or as the raw body (any Content-Type; `?filename=`
names it), at most 4 MiB; the same bytes get the same CID either way (see uploads.py).
The answer's `cid` is what `POST /assets` takes as `ipfs_hash`. `POST /assets/{id}/files`
attaches a stored file by `{"cid": ...}` (JSON), or uploads and attaches in one request.
Files are served with `nosniff` and a sandboxing CSP, and as attachments unless they
are media a browser can show safely, so an uploaded page never runs on our origin.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron_libs.wire import iso
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ipheron_gateway.config import MAX_FILE_BYTES
from ipheron_gateway.deps import CurrentUser, Stubs, User
from ipheron_gateway.problems import UPSTREAM, problem_responses
from ipheron_gateway.routers.assets import AssetOut, asset_out
from ipheron_gateway.uploads import UPLOAD_CONTENT, media_type, read_upload

router = APIRouter(tags=["files"])

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
            "sha256": f.sha256, "uploader_user_id": f.uploader_user_id, "created_at": iso(f.created_at) or "",
            "created": created}


def _actor(user: User) -> pb.Actor:
    return pb.Actor(user_id=user.id, wallet=(user.wallet or "").lower())


async def _store(request: Request, user: User, stubs: Stubs, filename: str) -> pb.UploadFileResponse:
    """Read the upload (multipart or raw) and store it; the answer says whether it was new."""
    upload = await read_upload(request, filename=filename, max_bytes=MAX_FILE_BYTES)
    return await stubs.assets.UploadFile(pb.UploadFileRequest(
        actor=_actor(user), filename=upload.filename, content_type=upload.content_type, content=upload.content))


@router.post("/files", response_model=FileOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": FileOut, "description": "The same bytes were already stored"},
                        **problem_responses(400, 401, 413, 422, *UPSTREAM)},
             openapi_extra={"requestBody": {"required": True, "content": UPLOAD_CONTENT}},
             summary="Upload content (multipart file part or raw body, at most 4 MiB); "
                     "200 when the same bytes were already stored")
async def upload_file(request: Request, user: CurrentUser, stubs: Stubs, response: Response,
                      filename: Annotated[str, Query(max_length=255)] = "") -> dict[str, Any]:
    r = await _store(request, user, stubs, filename)
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


_ATTACH_BODY = {"required": True, "content": {
    "application/json": {"schema": AttachIn.model_json_schema()}, **UPLOAD_CONTENT}}


@router.post("/assets/{asset_id}/files", response_model=AssetOut,
             responses=problem_responses(400, 401, 403, 404, 409, 413, 422, *UPSTREAM),
             openapi_extra={"requestBody": _ATTACH_BODY},
             summary="Attach a file to an asset (owner only): a stored one by CID (JSON), or upload it here "
                     "(multipart file part or raw body)")
async def attach_file(asset_id: str, request: Request, user: CurrentUser, stubs: Stubs,
                      filename: Annotated[str, Query(max_length=255)] = "") -> dict[str, Any]:
    if media_type(request) == b"application/json":
        raw = await request.body()
        try:
            cid = AttachIn.model_validate_json(raw).cid
        except ValidationError as exc:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    else:
        cid = (await _store(request, user, stubs, filename)).file.cid
    r = await stubs.assets.AttachFile(pb.AttachFileRequest(actor=_actor(user), asset_id=asset_id, cid=cid))
    return asset_out(r.asset)
