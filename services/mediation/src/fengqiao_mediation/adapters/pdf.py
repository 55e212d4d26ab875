"""The agreement PDF (调解协议书) in Chinese, with a CJK font embedded (subset) by fpdf2."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ..domain.bundle import PDF_ATTACHMENT, bundle_bytes

logging.getLogger("fontTools").setLevel(logging.WARNING)

SIDE_ZH = {"applicant": "申请人", "respondent": "被申请人"}


@dataclass
class AgreementDoc:
    agreement_id: str
    street: str
    category_name: str
    summary: str | None
    parties: list[dict]  # {"side", "name", "organisation"}
    mediator_name: str
    points: list[str]
    records: list[dict]  # {"seq", "started_at", "place", "record_hash"}
    chain_head: str
    generated_at: datetime
    seal_key_id: str | None = None
    bundle: dict | None = field(default=None)  # the record bundle + signed agreement statement (attached)


def render(doc: AgreementDoc, font_path: Path, font_index: int = 0) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(f"调解协议书 {doc.agreement_id}")
    pdf.set_creator("Fengqiao mediation")
    if doc.bundle is not None:
        pdf.set_subject(f"chain head {doc.chain_head}; sealed with {doc.seal_key_id}")
        pdf.set_keywords(f"fengqiao-record-bundle chain_head={doc.chain_head} key_id={doc.seal_key_id}")
        pdf.embed_file(bytes=bundle_bytes(doc.bundle), basename=PDF_ATTACHMENT,
                       desc="Signed record bundle (fengqiao-verify-record)", compress=False,
                       modification_date=doc.generated_at)
    kw = {"collection_font_number": font_index} if str(font_path).lower().endswith(".ttc") else {}
    pdf.add_font("cjk", fname=str(font_path), **kw)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    nl = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}

    pdf.set_font("cjk", size=20)
    pdf.cell(0, 14, "人民调解协议书", align="C", **nl)
    pdf.set_font("cjk", size=10)
    pdf.cell(0, 6, f"编号：{doc.agreement_id}", align="R", **nl)
    pdf.ln(2)

    pdf.set_font("cjk", size=12)
    for p in doc.parties:
        line = f"{SIDE_ZH.get(p['side'], '当事人')}：{p['name']}"
        if p.get("organisation"):
            line += f"（{p['organisation']}）"
        pdf.multi_cell(0, 8, line, **nl)
    pdf.multi_cell(0, 8, f"调解员：{doc.mediator_name}", **nl)
    pdf.multi_cell(0, 8, f"纠纷类型：{doc.category_name}", **nl)
    if doc.summary:
        pdf.multi_cell(0, 8, f"纠纷简要情况：{doc.summary}", **nl)
    pdf.ln(3)

    pdf.set_font("cjk", size=14)
    pdf.cell(0, 10, "经调解，双方自愿达成如下协议：", **nl)
    pdf.set_font("cjk", size=12)
    numerals = "一二三四五六七八九十"
    for i, point in enumerate(doc.points):
        num = numerals[i] if i < len(numerals) else str(i + 1)
        pdf.multi_cell(0, 8, f"{num}、{point}", **nl)
    pdf.ln(3)
    pdf.multi_cell(0, 8, "本协议自各方签字之日起生效。各方可自本协议生效之日起三十日内共同向人民法院申请司法确认。", **nl)
    pdf.ln(3)

    pdf.set_font("cjk", size=10)
    pdf.multi_cell(0, 6, "本协议依据以下经双方当事人及调解员确认并封存的调解记录生成：", **nl)
    for r in doc.records:
        pdf.multi_cell(0, 6, f"第{r['seq']}次调解 {r['started_at']} {r['place']}  记录哈希 {r['record_hash']}", **nl)
        for line in r.get("signatures", []):
            pdf.multi_cell(0, 6, f"    {line}", **nl)
    pdf.multi_cell(0, 6, f"记录链哈希：{doc.chain_head}", **nl)
    if doc.seal_key_id:
        pdf.multi_cell(0, 6, f"本协议及所依据记录已由本委员会密钥 {doc.seal_key_id} 签章（Ed25519），附件"
                             f" fengqiao-record-bundle.json 可离线校验。", **nl)
    pdf.ln(6)

    pdf.set_font("cjk", size=12)
    for p in doc.parties:
        pdf.cell(0, 10, f"{SIDE_ZH.get(p['side'], '当事人')}（签名）：{p['name']}", **nl)
    pdf.cell(0, 10, f"调解员（签名）：{doc.mediator_name}", **nl)
    pdf.cell(0, 10, f"{doc.street}人民调解委员会", align="R", **nl)
    pdf.cell(0, 8, doc.generated_at.strftime("%Y年%m月%d日"), align="R", **nl)
    return bytes(pdf.output())
