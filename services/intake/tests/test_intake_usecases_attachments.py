"""Attachments on in-memory fakes: upload rules, idempotency, who may read them back."""

from __future__ import annotations

import pytest
from fengqiao_common.errors import Conflict, Invalid, NotFound, TooLarge, Unsupported
from fengqiao_intake.usecases import attachments as uc
from fengqiao_intake.usecases.cases import report_grid_event
from intake_usecase_kit import DISPATCHER, OTHER_WORKER, WORKER, grid_body, world

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def _upload(uow, storage, principal=WORKER, data=PNG, name="photo.png", key=None, max_bytes=10_000):
    return await uc.store_attachment(uow, principal, uc.Upload(name, data, key), storage=storage, max_bytes=max_bytes)


async def test_upload_stores_the_bytes_by_content_and_the_row():
    uow, _, storage = world()
    result = await _upload(uow, storage, name="pho\x07to.png")
    row = result.item
    assert result.created and row["content_type"] == "image/png" and row["kind"] == "photo"
    assert row["filename"] == "photo.png" and row["size"] == len(PNG)
    assert storage.blobs[row["storage_key"]] == PNG and row["storage_key"].endswith(row["sha256"])
    assert uow.db.attachments[row["id"]]["uploaded_by"] == WORKER.sub


async def test_type_size_and_emptiness_are_checked_and_nothing_is_stored():
    uow, _, storage = world()
    with pytest.raises(Unsupported):
        await _upload(uow, storage, data=b"MZ just some text")
    with pytest.raises(TooLarge) as err:
        await _upload(uow, storage, max_bytes=10)
    assert err.value.code == "attachment_too_large"
    with pytest.raises(Invalid):
        await _upload(uow, storage, data=b"")
    assert uow.db.attachments == {} and storage.blobs == {}


async def test_the_same_key_replays_and_another_body_conflicts():
    uow, _, storage = world()
    first = await _upload(uow, storage, key="k")
    again = await _upload(uow, storage, key="k")
    assert not again.created and again.item["id"] == first.item["id"] and len(uow.db.attachments) == 1
    with pytest.raises(Conflict):
        await _upload(uow, storage, key="k", data=PNG + b"\x01")


async def test_only_the_uploader_or_a_reader_of_its_case_may_download():
    uow, c, storage = world()
    row = (await _upload(uow, storage)).item
    got, data = await uc.read_attachment(uow, WORKER, row["id"], storage=storage)
    assert data == PNG and got["id"] == row["id"]
    with pytest.raises(NotFound):
        await uc.read_attachment(uow, DISPATCHER, row["id"], storage=storage)  # not linked to a case yet
    await report_grid_event(uow, WORKER, grid_body(attachments=[row["id"]]), ctx=c)
    assert (await uc.read_attachment(uow, DISPATCHER, row["id"], storage=storage))[1] == PNG
    with pytest.raises(NotFound):
        await uc.read_attachment(uow, OTHER_WORKER, row["id"], storage=storage)
    with pytest.raises(NotFound):
        await uc.read_attachment(uow, WORKER, "nope", storage=storage)
