"""The views (督查督办台账, 年终考核, 信息台账) and their .xlsx twins: thin handlers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from application.access import Actor
from application.read_policy import POLICY
from domain.base import InvalidCommand
from infrastructure.spreadsheets.views_export import content_disposition, download_names, file_names, workbook
from infrastructure.view_runner import Views
from interfaces.http.deps import ActorDep, AsOfDep, ServicesDep
from interfaces.http.problems import refused_by

router = APIRouter(prefix="/api/v1/views", tags=["台账视图"], responses=refused_by(
    422, min_position_is_logged="min_position 大于日志的最新位置（尚无该位置，等待也不会有）"))

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MinPosition = Annotated[int | None, Query(ge=0, le=2**53 - 1, description="等待视图处理到该日志位置（读己之写），最长等待有限时间，否则 503")]
Year = Annotated[int, Path(ge=1949, le=2200)]



def _views(svc: Any) -> Views:
    return svc.views  # type: ignore[no-any-return]


def _answer(svc: Any, actor: Actor, name: str, as_of: datetime | None, min_position: int | None,
            year: int | None = None) -> dict[str, Any]:
    scope = POLICY.scope(actor)
    views = _views(svc)
    if min_position is not None and min_position > (svc.ledger.recorder.max_notification_id() or 0):
        # Every position a client was answered is stored already: waiting could not reach this one.
        raise InvalidCommand("min_position_is_logged", "min_position 超出日志的最新位置")
    views.wait_for(min_position)
    return views.view(name, as_of=as_of, year=year, scope=scope)


def _xlsx(view: dict[str, Any], name: str, year: int | None = None) -> Response:
    # Named for the day the view speaks for (today, or the day of as_of), so downloads
    # on different days sit side by side instead of overwriting each other.
    return Response(
        workbook(view, file_names(name, year)[0]),
        media_type=XLSX,
        headers={"Content-Disposition": content_disposition(*download_names(name, view["today"], year))},
    )


# Each view holds the rows its reader may read (application.read_policy): an agency's, those
# of the issues and cases its unit is party to, and its own unit's row.


@router.get("/evaluation/{year}.xlsx", summary="年终考核（Excel）", response_class=Response)
def evaluation_xlsx(year: Year, actor: ActorDep, svc: ServicesDep, as_of: AsOfDep, min_position: MinPosition = None) -> Any:
    return _xlsx(_answer(svc, actor, "evaluation", as_of, min_position, year), "evaluation", year)


@router.get("/evaluation/{year}", summary="年终考核：各单位客观指标与已记录等次，等次与记录不符者标出")
def evaluation(year: Year, actor: ActorDep, svc: ServicesDep, as_of: AsOfDep, min_position: MinPosition = None) -> Any:
    return _answer(svc, actor, "evaluation", as_of, min_position, year)


# The views of the whole district, each answered as JSON at its path and as a spreadsheet at
# the path with .xlsx: (path, view, operation name, summary of the JSON, of the spreadsheet).
DISTRICT_VIEWS = [
    ("/supervision", "supervision", "supervision", "督查督办台账：每个问题的进度、逾期、催办、红黄绿灯，及临近提醒",
     "督查督办台账（Excel）"),
    ("/supervision/units", "units", "supervision_units", "按单位：未完成、逾期、按期完成、逾期完成、被催办", "按单位（Excel）"),
    ("/ledger", "ledger", "ledger", "信息台账：个案按街道、类别、状态；转介与响应；服务；台账健康（不含个人信息）",
     "信息台账（Excel）"),
]


def _district_view(path: str, name: str, operation: str, summary: str, xlsx_summary: str) -> None:
    def answer(actor: ActorDep, svc: ServicesDep, as_of: AsOfDep, min_position: MinPosition = None) -> Any:
        return _answer(svc, actor, name, as_of, min_position)

    def download(actor: ActorDep, svc: ServicesDep, as_of: AsOfDep, min_position: MinPosition = None) -> Any:
        return _xlsx(_answer(svc, actor, name, as_of, min_position), name)

    router.add_api_route(path, answer, methods=["GET"], name=operation, summary=summary)
    router.add_api_route(f"{path}.xlsx", download, methods=["GET"], name=f"{operation}_xlsx", summary=xlsx_summary,
                         response_class=Response)


for _view in DISTRICT_VIEWS:
    _district_view(*_view)
