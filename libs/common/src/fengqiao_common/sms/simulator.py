"""The development provider: nothing is delivered; every message is kept and shown on ``/dev/sms``.

``SmsSimulator.send`` takes templates like a real provider (and renders them as a phone would show
them); ``send_text`` takes free text (one-time codes). ``text_sender()`` gives an object with
mediation's ``SmsSender.send(phone, text, *, purpose, ref)``, so one simulator serves both kinds.
"""

from __future__ import annotations

import html
import json
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from fengqiao_common.clock import SYSTEM_CLOCK, Clock
from fengqiao_common.ids import new_id

from .provider import SendResult
from .templates import Template, render

log = structlog.get_logger("fengqiao.sms")


@dataclass
class SimulatedSms:
    id: str
    phone: str
    text: str
    at: str
    template: str | None = None
    template_code: str | None = None
    params: dict | None = None
    purpose: str | None = None
    out_id: str | None = None


class SimulatedSmsOut(BaseModel):
    id: str
    phone: str
    text: str
    at: str
    template: str | None = None
    template_code: str | None = None
    params: dict | None = None
    purpose: str | None = None
    out_id: str | None = None


class _TextSender:
    def __init__(self, sim: SmsSimulator):
        self.sim = sim

    async def send(self, phone: str, text: str, *, purpose: str, ref: str | None = None) -> None:
        await self.sim.send_text(phone, text, purpose=purpose, ref=ref)


class SmsSimulator:
    name = "simulator"

    def __init__(self, *, sign_name: str = "枫桥", file: Path | None = None, keep: int = 500,
                 clock: Clock = SYSTEM_CLOCK):
        self.sign_name, self.file, self.clock = sign_name, file, clock
        self.sent: deque[SimulatedSms] = deque(maxlen=keep)

    def _keep(self, msg: SimulatedSms) -> None:
        self.sent.append(msg)
        log.info("sms (simulator, not delivered)", template=msg.template, purpose=msg.purpose, out_id=msg.out_id)
        if self.file is not None:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with self.file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(msg), ensure_ascii=False) + "\n")

    async def send(self, phone: str, template: Template, template_code: str, params: dict[str, str], *,
                   out_id: str | None = None) -> SendResult:
        text = render(template, params, sign_name=self.sign_name)
        msg = SimulatedSms(new_id(), phone, text, self.clock.now().isoformat(), template=template.name,
                           template_code=template_code, params=dict(params), out_id=out_id)
        self._keep(msg)
        return SendResult(True, provider_id=msg.id)

    async def send_text(self, phone: str, text: str, *, purpose: str, ref: str | None = None) -> None:
        self._keep(SimulatedSms(new_id(), phone, text, self.clock.now().isoformat(), purpose=purpose, out_id=ref))

    def text_sender(self) -> _TextSender:
        return _TextSender(self)

    def to(self, phone: str) -> list[SimulatedSms]:
        return [m for m in self.sent if m.phone == phone]


def page(messages: list[SimulatedSms]) -> str:
    rows = "".join(
        f"<li><b>{html.escape(m.phone)}</b> <small>{html.escape(m.at)} {html.escape(m.template or m.purpose or '')}"
        f"</small><p>{html.escape(m.text)}</p></li>" for m in reversed(messages))
    return ("<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'><title>短信模拟器</title>"
            "<body><h1>短信模拟器（开发环境，未真实发送）</h1>"
            f"<ul id='sms'>{rows or '<li>暂无短信</li>'}</ul></body></html>")


def dev_router(get_simulator, prefix: str = "/dev/sms") -> APIRouter:
    """``GET /dev/sms`` (HTML) and ``GET /dev/sms.json``; mount only outside production."""
    router = APIRouter(tags=["development"])

    @router.get(prefix, response_class=HTMLResponse, operation_id="dev_sms_page",
                responses={200: {"content": {"text/html": {}}, "description": "the messages sent, newest first"}})
    async def sms_page() -> HTMLResponse:
        sim = get_simulator()
        return HTMLResponse(page(list(sim.sent) if sim else []))

    @router.get(prefix + ".json", operation_id="dev_sms_list")
    async def sms_list(phone: str | None = None) -> list[SimulatedSmsOut]:
        sim = get_simulator()
        msgs = list(sim.sent) if sim else []
        return [SimulatedSmsOut(**asdict(m)) for m in msgs if phone is None or m.phone == phone]

    return router
