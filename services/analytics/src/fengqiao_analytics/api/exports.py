"""Exports of cases, orders and weak signals as CSV or Excel (xlsx), with filters (masking: see
usecases/exports.py). This module only writes the file formats."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from ..domain.cells import safe_text
from ..usecases import exports as uc
from .access import PREFIX, DepsDep, DrillReader

router = APIRouter(prefix=f"{PREFIX}/exports", tags=["exports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS_ZH = {
    "case_id": "案件ID", "case_no": "案件编号", "status": "状态", "channel": "渠道", "category": "领域",
    "grade": "等级", "grid": "网格", "community": "社区", "reported_at": "受理时间", "people_involved": "涉及人数",
    "departments": "承办部门", "resolved_at": "办结时间", "closed_at": "结案时间", "reopen_count": "重开次数",
    "return_count": "退单次数", "escalation_count": "督办次数", "overdue_orders": "超期工单", "rating": "评价",
    "merged_into": "合并至", "requester_ref": "诉求人(化名)", "summary": "摘要", "order_id": "工单ID",
    "department": "部门", "level": "层级", "role": "主协办", "dispatched_at": "派单时间", "signed_at": "签收时间",
    "sign_within": "按时签收", "checked_in_at": "报到时间", "checkin_within": "按时报到", "resolve_within": "按时办结",
    "returned_at": "退单时间", "verified_at": "核验时间", "missed_stages": "超期环节", "reminders": "催办次数",
    "escalations": "督办", "signal_id": "信号ID", "source": "来源", "rule": "规则",
    "assignee": "责任人/部门", "first_at": "发现时间", "became_case_id": "转为案件", "reasons": "原因",
    "subject": "对象",
}
FILE_RESPONSES = {200: {"description": "The export as a file (UTF-8 CSV with BOM, or an xlsx workbook)",
                        "content": {"text/csv": {"schema": {"type": "string"}},
                                    XLSX: {"schema": {"type": "string", "format": "binary"}}}}}


def _cell(v, xlsx: bool = False, tz=None):
    """A value as a cell: text neutralised (no formula can start it), dates local in xlsx."""
    if v is None:
        return None if xlsx else ""
    if isinstance(v, datetime):
        return v.astimezone(tz).replace(tzinfo=None) if xlsx else v.isoformat()
    if isinstance(v, list | dict):
        return safe_text(json.dumps(v, ensure_ascii=False))
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, str):
        return safe_text(v)
    return v


def _xlsx_row(ws, values: list) -> list:
    """Text as typed string cells (``data_type 's'``): openpyxl would otherwise store a str starting with
    '=' as a formula."""
    out = []
    for v in values:
        if isinstance(v, str):
            c = WriteOnlyCell(ws, value=v)
            c.data_type = "s"
            out.append(c)
        else:
            out.append(v)
    return out


@router.get("/{kind}.{fmt}", operation_id="analytics_export", response_class=Response, responses=FILE_RESPONSES,
            summary="Export cases, orders or weak signals as CSV or xlsx")
async def export(
    kind: Literal["cases", "orders", "signals"], fmt: Literal["csv", "xlsx"], deps: DepsDep, principal: DrillReader,
    date_from: date | None = Query(None, alias="from"), date_to: date | None = Query(None, alias="to"),
    domain: str | None = Query(None, max_length=50), grade: Literal["red", "orange", "yellow", "blue"] | None = None,
    status: str | None = Query(None, max_length=30), grid: str | None = Query(None, max_length=50),
    community: str | None = Query(None, max_length=50), department: str | None = Query(None, max_length=50),
    channel: str | None = Query(None, max_length=30), rule: str | None = Query(None, max_length=50),
) -> Response:
    q = uc.ExportQuery(kind, date_from, date_to, dict(domain=domain, grade=grade, status=status, grid=grid,
                                                      community=community, department=department, channel=channel,
                                                      rule=rule))
    tz = deps.context.tz
    ex = await uc.export(deps.uow(), deps.context, principal, q, max_rows=deps.settings.export_max_rows)
    header = [f"{HEADERS_ZH.get(c, c)} {c}" for c in ex.columns]
    filename = f"fengqiao-{kind}-{ex.stamp.strftime('%Y%m%d-%H%M')}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "csv":
        async def body():
            buf = io.StringIO()
            w = csv.writer(buf)
            buf.write("\ufeff")  # so that Excel opens UTF-8 Chinese correctly
            w.writerow(header)
            async for part in ex.rows:
                for row in part:
                    w.writerow([_cell(v, False, tz) for v in row])
                yield buf.getvalue().encode()
                buf.seek(0)
                buf.truncate()
            yield buf.getvalue().encode()

        return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=disposition)

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(kind)
    ws.append(_xlsx_row(ws, header))
    async for part in ex.rows:
        for row in part:
            ws.append(_xlsx_row(ws, [_cell(v, True, tz) for v in row]))
    out = io.BytesIO()
    wb.save(out)
    return Response(out.getvalue(), headers=disposition, media_type=XLSX)
