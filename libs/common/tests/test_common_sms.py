"""The SMS module: templates, the simulator, and the Alibaba Cloud client against a local stub server
that speaks dysmsapi's SendSms (and checks the RPC signature v1 with the secret)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest
from fengqiao_common.sms import SmsSimulator, Template, TemplateError, render
from fengqiao_common.sms.aliyun import AliyunSms, sign

SECRET = "testsecret"
ACCEPTED = Template("accepted", "您反映的问题已受理，编号${case_no}，查询码${code}。")


def _expected_signature(pairs: list[tuple[str, str]]) -> str:
    enc = lambda s: quote(s, safe="~")  # noqa: E731  (written independently of the client's helper)
    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(pairs))
    sts = "GET&%2F&" + enc(canonical)
    return base64.b64encode(hmac.new((SECRET + "&").encode(), sts.encode(), hashlib.sha1).digest()).decode()


class _Stub(BaseHTTPRequestHandler):
    received: list[dict] = []
    answer_code = "OK"

    def do_GET(self):
        pairs = parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
        q = dict(pairs)
        given = q.pop("Signature", None)
        ok = given == _expected_signature([(k, v) for k, v in pairs if k != "Signature"])
        for name in ("AccessKeyId", "SignName", "TemplateCode", "TemplateParam", "PhoneNumbers"):
            ok = ok and bool(q.get(name))
        ok = ok and q.get("Action") == "SendSms" and q.get("SignatureMethod") == "HMAC-SHA1" \
            and q.get("SignatureVersion") == "1.0" and q.get("Version") == "2017-05-25"
        type(self).received.append(q)
        if not ok:
            body, status = {"Code": "SignatureDoesNotMatch", "Message": "bad signature", "RequestId": "r"}, 400
        else:
            code = type(self).answer_code
            body, status = {"Code": code, "Message": "OK" if code == "OK" else "refused", "RequestId": "r",
                            "BizId": "biz-1" if code == "OK" else None}, 200
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub():
    _Stub.received, _Stub.answer_code = [], "OK"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_template_parameters_are_exactly_the_templates():
    assert ACCEPTED.params == {"case_no", "code"}
    assert render(ACCEPTED, {"case_no": "C1", "code": "123456"}, sign_name="枫桥") == \
        "【枫桥】您反映的问题已受理，编号C1，查询码123456。"
    with pytest.raises(TemplateError):
        ACCEPTED.check({"case_no": "C1", "code": "1", "name": "张三"})  # no more data than the template needs
    with pytest.raises(TemplateError):
        ACCEPTED.check({"case_no": "C1"})


def test_signature_matches_the_documented_example():
    # Alibaba Cloud's documented example of signature v1 (DescribeRegions, secret "testsecret")
    params = {"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
              "SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26"}
    assert sign(params, SECRET) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


async def test_aliyun_client_sends_a_signed_request_the_stub_accepts(stub):
    async with httpx.AsyncClient() as client:
        sms = AliyunSms(client, access_key_id="testid", access_key_secret=SECRET, sign_name="枫桥", endpoint=stub)
        result = await sms.send("13800000000", ACCEPTED, "SMS_1001", {"case_no": "WH-1", "code": "a b*~"},
                                out_id="send-key-1")
        assert result.ok and result.provider_id == "biz-1"
        q = _Stub.received[-1]
        assert q["TemplateCode"] == "SMS_1001" and q["SignName"] == "枫桥" and q["OutId"] == "send-key-1"
        assert json.loads(q["TemplateParam"]) == {"case_no": "WH-1", "code": "a b*~"}
        _Stub.answer_code = "isv.BUSINESS_LIMIT_CONTROL"
        throttled = await sms.send("13800000000", ACCEPTED, "SMS_1001", {"case_no": "WH-1", "code": "1"})
        assert not throttled.ok and throttled.retryable
        _Stub.answer_code = "isv.MOBILE_NUMBER_ILLEGAL"
        bad = await sms.send("1", ACCEPTED, "SMS_1001", {"case_no": "WH-1", "code": "1"})
        assert not bad.ok and not bad.retryable
        wrong = AliyunSms(client, access_key_id="testid", access_key_secret="other", sign_name="枫桥", endpoint=stub)
        refused = await wrong.send("13800000000", ACCEPTED, "SMS_1001", {"case_no": "WH-1", "code": "1"})
        assert refused.code == "SignatureDoesNotMatch" and not refused.ok


async def test_simulator_keeps_templates_and_free_text():
    sim = SmsSimulator()
    await sim.send("13800000000", ACCEPTED, "SMS_1001", {"case_no": "WH-1", "code": "9"}, out_id="k1")
    await sim.text_sender().send("13900000000", "验证码 1234", purpose="otp")
    assert [m.text for m in sim.to("13800000000")] == ["【枫桥】您反映的问题已受理，编号WH-1，查询码9。"]
    assert sim.to("13900000000")[0].purpose == "otp"
    await asyncio.sleep(0)
