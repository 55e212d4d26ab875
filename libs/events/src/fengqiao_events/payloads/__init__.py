"""Event payloads, one module per owning service. Payloads carry no personal data (names, phones,
ID numbers); consumers ignore fields they do not know, so adding an optional field is compatible."""

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")
