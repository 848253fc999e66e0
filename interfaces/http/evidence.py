"""佐证材料 endpoints: upload a file (stored by its SHA-256), download one an entry names."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field, WithJsonSchema

from application.evidence import EXTENSIONS
from infrastructure.spreadsheets.views_export import content_disposition
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.http.problems import refused_by

router = APIRouter(prefix="/api/v1/evidence", tags=["佐证材料"])

# Commands whose evidence names stored files by their digest (`responses=` on their routes).
EVIDENCE_IS_STORED = refused_by(422, evidence_is_stored="evidence 中的 sha256 不是已上传（该个案的材料：为该个案上传）的文件")


class EvidenceOut(BaseModel):
    sha256: str = Field(description="文件内容的 SHA-256（小写十六进制）：命令中的 evidence 以它引用文件")
    size: int
    media_type: str = Field(description="按文件内容判断的类型")
    name: str


@router.post("", response_model=EvidenceOut, status_code=201, summary="上传佐证材料",
             responses={
                 **refused_by(413, evidence_within_size_limit="文件超过大小上限"),
                 **refused_by(415, evidence_type_allowed="按文件内容判断，不是 PDF、JPG、PNG、DOCX 或 XLSX 文件"),
                 **refused_by(422, case_not_erased="case_id 的个案个人信息已删除",
                              free_text_holds_no_id_or_mobile_number="不属于个案的文件，其名称含身份证号码或手机号码")})
def upload(
    caller: ActorDep, svc: ServicesDep,
    file: Annotated[UploadFile, File(description="PDF、JPG、PNG、DOCX 或 XLSX 文件")],
    # A form field is absent or a string, never `null`; an empty one counts as absent.
    case_id: Annotated[UUID | None, Form(description="儿童个案的材料：以该儿童的密钥加密保存；空值等于不填"),
                       WithJsonSchema({"anyOf": [{"type": "string", "format": "uuid"},
                                                 {"type": "string", "maxLength": 0}]})] = None,
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
