"""Attachments: type sniffed from content, size-limited, sha256 stored, linked to a case, access-checked."""

import asyncio
import hashlib

from fengqiao_intake.adapters.storage import LocalStorage
from intake_helpers import dispatcher, grid_event, system, worker

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def _upload(client, headers, name, data, ctype="application/octet-stream"):
    return await client.post("/api/v1/attachments", files={"file": (name, data, ctype)}, headers=headers)


async def test_upload_link_and_download(client, runtime):
    gw = worker("WH-09", sub="gw-att")
    r = await _upload(client, gw, "scene.bin", PNG)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["content_type"] == "image/png" and a["kind"] == "photo" and a["size"] == len(PNG)
    assert a["sha256"] == hashlib.sha256(PNG).hexdigest() and a["case_id"] is None
    r = await _upload(client, gw, "record.pdf", PDF)
    assert r.status_code == 201 and r.json()["content_type"] == "application/pdf"
    pdf = r.json()
    # stored on local disk under the content hash
    storage = runtime.deps.storage
    assert isinstance(storage, LocalStorage)
    assert (storage.root / a["sha256"][:2] / a["sha256"]).read_bytes() == PNG
    r = await client.post("/api/v1/cases/grid-events", json=grid_event(grid="WH-09", attachments=[a["id"], pdf["id"]]),
                          headers=gw)
    assert r.status_code == 201, r.text
    case = r.json()
    got = (await client.get(f"/api/v1/cases/{case['id']}", headers=dispatcher())).json()
    assert sorted(x["id"] for x in got["attachments"]) == sorted([a["id"], pdf["id"]])
    r = await client.get(f"/api/v1/attachments/{a['id']}", headers=dispatcher())
    assert r.status_code == 200 and r.content == PNG and r.headers["content-type"] == "image/png"
    assert r.headers["x-content-sha256"] == a["sha256"]
    # someone who cannot see the case cannot fetch its attachments
    assert (await client.get(f"/api/v1/attachments/{a['id']}", headers=system())).status_code == 404
    assert (await client.get(f"/api/v1/attachments/{a['id']}", headers=worker("WH-50"))).status_code == 404
    # an attachment belongs to one case only
    r = await client.post("/api/v1/cases/grid-events", json=grid_event(grid="WH-09", attachments=[a["id"]]), headers=gw)
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "attachments"
    # and only its uploader may attach it
    other = worker("WH-09", sub="gw-other")
    rb = await _upload(client, gw, "b.png", PNG)
    assert rb.status_code == 201, rb.text
    b = rb.json()
    r = await client.post("/api/v1/cases/grid-events", json=grid_event(grid="WH-09", attachments=[b["id"]]), headers=other)
    assert r.status_code == 422


async def test_type_checked_by_content_not_by_name_and_size_limited(client):
    h = worker("WH-09")
    r = await _upload(client, h, "photo.jpg", b"just some text pretending to be a photo", "image/jpeg")
    assert r.status_code == 415
    assert r.json()["fields"][0]["field"] == "file" and r.json()["message_zh"]
    r = await _upload(client, h, "evil.png", b"MZ\x90\x00" + b"\x00" * 100)  # a Windows executable
    assert r.status_code == 415
    r = await _upload(client, h, "odd\x00\x07name.png", PNG)
    assert r.status_code == 201 and "\x00" not in r.json()["filename"]
    r = await _upload(client, h, "empty.png", b"")
    assert r.status_code == 422
    big = PNG + b"\x00" * 300_000  # over the 200 kB limit of the test settings
    r = await _upload(client, h, "big.png", big)
    assert r.status_code == 413
    r = await _upload(client, h, "big.png", PNG + b"\x00" * 230_000)  # passes the body limit, not the file limit
    assert r.status_code == 413 and r.json()["error"] == "attachment_too_large"
    r = await client.post("/api/v1/attachments", headers=h)
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "file"
    assert (await _upload(client, {}, "a.png", PNG)).status_code == 401


async def test_upload_idempotency_key_under_concurrent_retries(client):
    h = {**worker("WH-09", sub="gw-idem"), "Idempotency-Key": "upload-1"}
    rs = await asyncio.gather(*(_upload(client, h, "p.png", PNG) for _ in range(5)))
    assert sorted(r.status_code for r in rs) == [200] * 4 + [201], [r.text for r in rs]
    assert len({r.json()["id"] for r in rs}) == 1
    r = await _upload(client, h, "p.png", PDF)
    assert r.status_code == 409 and r.json()["error"] == "idempotency_key_reused"
