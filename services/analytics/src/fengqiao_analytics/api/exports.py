"""Exports of cases, orders and weak signals as CSV or Excel (xlsx), with filters.

Events carry no personal data (no names, phones or ID numbers), so the read models hold none either; the
few columns that identify a person indirectly - the pseudonymous requester id, the name of the officer
who signed for an order, the requester subject of a signal - are masked unless the caller's role may see
personal data (Principal.may_see_pii)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from fengqiao_common.db import Session
from fengqiao_common.errors import ApiError

from .. import queries
from .deps import PREFIX, CtxDep, Reader

router = APIRouter(prefix=f"{PREFIX}/exports", tags=["exports"])
MASK = "***"
HEADERS_ZH = {
    "case_id": "案件ID", "case_no": "案件编号", "status": "状态", "channel": "渠道", "category": "领域",
    "grade": "等级", "grid": "网格", "community": "社区", "reported_at": "受理时间", "people_involved": "涉及人数",
    "departments": "承办部门", "resolved_at": "办结时间", "closed_at": "结案时间", "reopen_count": "重开次数",
    "return_count": "退单次数", "escalation_count": "督办次数", "overdue_orders": "超期工单", "rating": "评价",
    "merged_into": "合并至", "requester_ref": "诉求人(化名)", "summary": "摘要", "order_id": "工单ID",
    "department": "部门", "level": "层级", "role": "主协办", "dispatched_at": "派单时间", "signed_at": "签收时间",
    "sign_within": "按时签收", "checked_in_at": "报到时间", "checkin_within": "按时报到", "resolve_within": "按时办结",
    "returned_at": "退单时间", "verified_at": "核验时间", "missed_stages": "超期环节", "reminders": "催办次数",
    "escalations": "督办", "officer": "签收人", "signal_id": "信号ID", "source": "来源", "rule": "规则",
    "assignee": "责任人/部门", "first_at": "发现时间", "became_case_id": "转为案件", "reasons": "原因",
    "subject": "对象",
}


def _cell(v, xlsx: bool = False, tz=None):
    if v is None:
        return None if xlsx else ""
    if isinstance(v, datetime):
        return v.astimezone(tz).replace(tzinfo=None) if xlsx else v.isoformat()
    if isinstance(v, list | dict):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "是" if v else "否"
    return v


@router.get("/{kind}.{fmt}", operation_id="analytics_export",
            summary="Export cases, orders or weak signals as CSV or xlsx")
async def export(
    kind: Literal["cases", "orders", "signals"], fmt: Literal["csv", "xlsx"], ctx: CtxDep, session: Session,
    principal: Reader,
    date_from: date | None = Query(None, alias="from"), date_to: date | None = Query(None, alias="to"),
    domain: str | None = Query(None, max_length=50), grade: Literal["red", "orange", "yellow", "blue"] | None = None,
    status: str | None = Query(None, max_length=30), grid: str | None = Query(None, max_length=50),
    community: str | None = Query(None, max_length=50), department: str | None = Query(None, max_length=50),
    channel: str | None = Query(None, max_length=30), rule: str | None = Query(None, max_length=50),
):
    if date_from and date_to and date_to < date_from:
        raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=[{
            "field": "to", "loc": ["query", "to"], "code": "date_range",
            "message_zh": "结束日期不能早于开始日期", "message_en": "'to' must not be before 'from'"}])
    filters = dict(date_from=date_from, date_to=date_to, domain=domain, grade=grade, status=status, grid=grid,
                   community=community, department=department, channel=channel, rule=rule, tz=ctx.tz)
    columns = {"cases": queries.CASE_COLUMNS, "orders": queries.ORDER_COLUMNS, "signals": queries.SIGNAL_COLUMNS}[kind]
    masked = set() if principal.may_see_pii else queries.PII_COLUMNS[kind]
    stmt = queries.export_query(kind, filters).limit(ctx.settings.export_max_rows)
    header = [f"{HEADERS_ZH.get(c, c)} {c}" for c in columns]

    def shape(row, xlsx: bool = False) -> list:
        return [MASK if (c in masked and row[i] is not None) else _cell(row[i], xlsx, ctx.tz)
                for i, c in enumerate(columns)]

    stamp = datetime.now(ctx.tz).strftime("%Y%m%d-%H%M")
    filename = f"fengqiao-{kind}-{stamp}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "csv":
        result = await session.stream(stmt)

        async def body():
            buf = io.StringIO()
            w = csv.writer(buf)
            buf.write("\ufeff")  # so that Excel opens UTF-8 Chinese correctly
            w.writerow(header)
            async for part in result.partitions(1000):
                for row in part:
                    w.writerow(shape(row))
                yield buf.getvalue().encode()
                buf.seek(0)
                buf.truncate()
            yield buf.getvalue().encode()

        return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=disposition)

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(kind)
    ws.append(header)
    result = await session.stream(stmt)
    async for part in result.partitions(1000):
        for row in part:
            ws.append(shape(row, xlsx=True))
    out = io.BytesIO()
    wb.save(out)
    return Response(out.getvalue(), headers=disposition,
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

