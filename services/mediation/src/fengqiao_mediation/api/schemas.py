"""Request bodies (the use cases' commands, re-exported) and the response models of every route."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from ..usecases.commands import (  # noqa: F401 - the request bodies
    AvailabilityIn,
    BookingIn,
    CancelIn,
    CourtApplicationIn,
    CourtCallback,
    FailureIn,
    LeaveIn,
    MaterialIn,
    MediatorIn,
    MediatorPatch,
    OtpIn,
    ProposalRequest,
    RescheduleIn,
    SessionIn,
    SignatureIn,
    check_time,
)

# Timestamps as ``datetime.isoformat()`` ("+00:00", never "Z"), as the service has always written them.
Time = Annotated[datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str, when_used="json"),
                 WithJsonSchema({"type": "string", "format": "date-time"})]
Json = dict[str, Any]


class Out(BaseModel):
    pass


class LeaveOut(Out):
    id: str
    starts_at: Time
    ends_at: Time
    reason: str | None


class LeaveCreated(LeaveOut):
    mediator_id: str


class MediatorOut(Out):
    id: str
    name: str
    kind: str
    gender: str
    categories: list[str]
    dialects: list[str]
    capacity: int
    outreach: bool
    weekly: list[Json] = Field(description="[{weekday 0-6, start HH:MM, end HH:MM}] local time")
    active: bool
    relations: list[Json] = Field(None, description="declared relations: only for admins and the mediator itself")
    load: int = Field(description="active mediations now")
    leaves: list[LeaveOut] = Field(None, description="only on the single mediator")


class SlotOut(Out):
    starts_at: Time
    ends_at: Time


class BookingOut(Out):
    id: str
    mediation_id: str
    mediator_id: str
    starts_at: Time
    ends_at: Time
    mode: str
    address: str | None
    status: str
    replaces: str | None
    cancel_reason: str | None
    created_at: Time


class BookedBooking(Out):
    id: str
    mediation_id: str
    mediator_id: str
    mediator_name: str
    starts_at: Time
    ends_at: Time
    mode: str
    address: str | None
    status: str


class BookedMediation(Out):
    id: str
    case_id: str | None
    category: str
    status: str
    created: bool


class BookedParty(Out):
    id: str
    side: str
    name: str


class BookingResult(Out):
    booking: BookedBooking
    mediation: BookedMediation
    parties: list[BookedParty] = Field(description="parties[].id is the party_id of each party's identity")


class ProposalOut(Out):
    mediator_id: str
    name: str
    kind: str
    score: float
    load: int
    capacity: int
    reasons: list[Json]
    slots: list[SlotOut]


class ExcludedOut(Out):
    mediator_id: str
    name: str
    reasons: list[Json]


class ProposalsOut(Out):
    category: str
    proposals: list[ProposalOut]
    excluded: list[ExcludedOut]


class MediationBrief(Out):
    id: str
    case_id: str | None
    case_no: str | None
    source: str
    external_system: str | None
    category: str
    status: str
    mediator_id: str | None
    created_at: Time
    updated_at: Time


class InPersonOut(Out):
    name: str = Field(description="the witness")
    role: str = Field(description="the witness's role (e.g. 村委会委员, 社区网格员)")
    photo_sha256: str = Field(description="SHA-256 of the photo taken of the signing")
    statement: str = Field(description="signed in person before mediator X and witness Y (zh / en)")


class SignatureOut(Out):
    signer: str
    signer_role: str
    signer_name: str
    method: str = Field(description="image | otp | in_person")
    channel: str | None = Field(description="login (the signer's own login) | otp (code sent to the party's "
                                            "phone) | in_person (before the mediator and a witness); null on "
                                            "records signed before channels were recorded")
    image_sha256: str | None
    signed_at: Time
    content_hash: str
    in_person: InPersonOut | None = Field(description="present when signed in person: the witness and photo")


class SessionOut(Out):
    id: str
    mediation_id: str
    seq: int
    booking_id: str | None
    started_at: Time
    ended_at: Time
    place: str
    attendees: list[str]
    points_agreed: list[str]
    points_outstanding: list[str]
    notes: str | None
    status: str
    chain_index: int | None
    prev_hash: str | None
    record_hash: str | None
    sealed_at: Time | None
    seal_key_id: str | None = Field(description="id of the Ed25519 key that sealed the record (GET seal-keys)")
    seal_signature: str | None = Field(description="base64 Ed25519 signature of the record-seal statement")
    signatures: list[SignatureOut]
    pending_signers: list[str]


class SignedSession(SessionOut):
    sealed_now: bool = Field(description="this signature sealed the record")


class OtpSent(Out):
    otp_id: str
    sent_to: str = Field(description="the masked phone number")
    expires_at: Time


class AgreementBrief(Out):
    id: str
    sha256: str
    points: list[str]
    generated_at: Time
    apply_by: Time
    pdf_url: str


class AgreementOut(AgreementBrief):
    mediation_id: str
    chain_head: str


class ApplicationOut(Out):
    id: str
    mediation_id: str
    agreement_id: str
    court: str
    external_ref: str | None
    status: str
    ruling_no: str | None
    reason: str | None
    material_request: str | None
    history: list[Json]
    applied_at: Time
    decided_at: Time | None


class MediatorRef(Out):
    id: str
    name: str


class PartyOut(Out):
    id: str
    side: str
    name: str
    organisation: str | None
    phone: str = Field(description="masked unless the reader may see personal data (or is this party)")


class MediationView(MediationBrief):
    category_name: str
    summary: str | None
    mediator: MediatorRef | None
    parties: list[PartyOut]
    bookings: list[BookingOut]
    sessions: list[SessionOut]
    agreement: AgreementBrief | None
    court_applications: list[ApplicationOut]
    handed_to: str | None
    outcome: str | None


class RecordCheckOut(Out):
    session_id: str
    seq: int
    chain_index: int | None
    valid: bool
    problems: list[str]
    seal_key_id: str | None = Field(description="the key that sealed the record")


class AgreementCheck(Out):
    id: str
    valid: bool
    pdf_hash_ok: bool
    chain_head_ok: bool
    seal_ok: bool = Field(description="the agreement statement's seal verifies with a published key")


class SealKeyOut(Out):
    key_id: str = Field(description="ed25519:<first 16 hex digits of SHA-256 of the raw public key>")
    algorithm: str
    public_key: str = Field(description="the raw 32-byte public key, base64")
    public_key_pem: str
    current: bool = Field(description="the key sealing new records (the others are retired, still valid)")


class SealKeysOut(Out):
    algorithm: str
    keys: list[SealKeyOut]


class SignedStatementOut(Out):
    statement: Json = Field(description="the statement (canonical JSON: sorted keys, no spaces, UTF-8)")
    key_id: str
    signature: str = Field(description="base64 Ed25519 signature of the canonical statement")


class RecordBundleOut(Out):
    format: str
    mediation_id: str
    records: list[Json] = Field(description="per sealed record: content, prev_hash, record_hash, seal")
    statements: list[SignedStatementOut] = Field(description="the signed daily statements of the sealing days")
    agreement: SignedStatementOut | None = Field(description="the signed agreement statement, once generated")


class VerifyOut(Out):
    mediation_id: str
    records: list[RecordCheckOut]
    head: str | None
    agreement: AgreementCheck = Field(None, description="present when an agreement was generated")
    valid: bool


class CallbackResult(Out):
    application_id: str
    status: str
    duplicate: bool


class ReminderOut(Out):
    id: str
    mediation_id: str
    kind: str
    due_at: Time
    sent_at: Time


class SmsOut(Out):
    phone: str
    text: str
    purpose: str
    ref: str | None
    at: str
