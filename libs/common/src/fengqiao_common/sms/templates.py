"""Pre-approved templates: the parameters are fixed per template and checked before a send."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAM = re.compile(r"\$\{(\w+)\}")
MAX_PARAM_CHARS = 35  # Alibaba Cloud: a variable of a notification template is at most 35 characters


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    """``text`` is the approved wording with ``${name}`` variables; ``params`` must name exactly them."""

    name: str
    text: str

    @property
    def params(self) -> frozenset[str]:
        return frozenset(_PARAM.findall(self.text))

    def check(self, values: dict[str, str]) -> dict[str, str]:
        """Exactly the template's parameters, each a short string (no more data than the template needs)."""
        given = set(values)
        if given != self.params:
            raise TemplateError(f"template {self.name}: parameters {sorted(given)} != {sorted(self.params)}")
        out = {k: str(v) for k, v in values.items()}
        for k, v in out.items():
            if not v or len(v) > MAX_PARAM_CHARS:
                raise TemplateError(f"template {self.name}: parameter {k} empty or longer than {MAX_PARAM_CHARS}")
        return out


def render(template: Template, values: dict[str, str], *, sign_name: str | None = None) -> str:
    """The text as a phone shows it (what the provider renders): ``【签名】`` + the template filled in."""
    checked = template.check(values)
    body = _PARAM.sub(lambda m: checked[m.group(1)], template.text)
    return f"【{sign_name}】{body}" if sign_name else body
