"""佐证材料 endpoints: upload a file (stored by its SHA-256), download one an entry names."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from application.evidence import EXTENSIONS
from infrastructure.spreadsheets.views_export import content_disposition
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.http.problems import responses

router = APIRouter(prefix="/api/v1/evidence", tags=["佐证材料"])


class EvidenceOut(BaseModel):
    sha256: str = Field(description="文件内容的 SHA-256（小写十六进制）：命令中的 evidence 以它引用文件")
    size: int
    media_type: str = Field(description="按文件内容判断的类型")
    name: str


@router.post("", response_model=EvidenceOut, status_code=201, summary="上传佐证材料",
             responses=responses(415))
def upload(
    caller: ActorDep, svc: ServicesDep,
    file: Annotated[UploadFile, File(description="PDF、JPG、PNG、DOCX 或 XLSX 文件")],
    case_id: Annotated[UUID | None, Form(description="儿童个案的材料：以该儿童的密钥加密保存")] = None,
) -> Any:
    content = file.file.read(svc.evidence.max_bytes + 1)
    return svc.evidence.upload(caller, content=content, name=file.filename, case_id=case_id).answer()


@router.get("/{sha256}", summary="下载佐证材料", response_class=Response,
            responses={200: {"content": {media: {} for media in EXTENSIONS}}})
def download(sha256: str, caller: ActorDep, svc: ServicesDep, request: Request) -> Response:
    file, content = svc.evidence.download(caller, sha256, endpoint=request.url.path)
    fallback = f"evidence-{file.sha256[:12]}{EXTENSIONS[file.media_type]}"
    return Response(content, media_type=file.media_type, headers={
        "Content-Disposition": content_disposition(file.name, fallback), "X-Content-Type-Options": "nosniff"})
