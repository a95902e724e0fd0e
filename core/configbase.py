"""What the sections of the configuration share besides their base model (one for the
config and the rules alike: core.validation.Strict): names and listen addresses."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(value: Any) -> ListenAddress:
    """``host:port`` or ``[v6]:port``; the host must be an IP address or ``localhost``."""
    if isinstance(value, ListenAddress):
        return value
    if not isinstance(value, str) or ":" not in value:
        raise ValueError(f"listen address must look like 127.0.0.1:8080, got {value!r}")
    host, _, port_text = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"port must be a number from 0 to 65535, got {port_text!r}")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"host must be an IP address or localhost, got {host!r}") from None
    return ListenAddress(host, int(port_text))


Listen = Annotated[ListenAddress, Field(json_schema_extra={"type": "string"})]
