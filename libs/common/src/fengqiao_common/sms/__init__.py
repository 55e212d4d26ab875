"""Text messages the way Chinese SMS providers take them: pre-approved templates with parameters.

- :mod:`.templates`: a template is a name, the fixed set of parameters it takes and the approved
  Chinese text (the provider holds the text; the code of each approved template is configuration);
- :mod:`.provider`: the interface every provider client implements (``SmsProvider.send``) and its result;
- :mod:`.aliyun`: Alibaba Cloud SMS (dysmsapi ``SendSms``, RPC signature v1, HMAC-SHA1) over httpx;
- :mod:`.simulator`: the development provider: keeps what was "sent" (memory, optionally a JSONL file)
  and serves it on a page (``dev_router``); also takes free text (``send_text``) for one-time codes.
"""

from .provider import SendResult, SmsProvider
from .simulator import SimulatedSms, SmsSimulator, dev_router
from .templates import Template, TemplateError, render

__all__ = ["SendResult", "SimulatedSms", "SmsProvider", "SmsSimulator", "Template", "TemplateError", "dev_router",
           "render"]
