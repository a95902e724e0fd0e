"""Secrets in config: ``{env: NAME}``, ``{file: /path}`` or (discouraged) inline.

A module of its own so every config section (gateway, sinks) can use it
without importing each other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class SecretRef(BaseModel):
    """A secret from the environment, a file, or (discouraged) inline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(default=None, description="name of an environment variable")
    file: Path | None = Field(default=None, description="path of a file holding the secret")
    value: SecretStr | None = Field(default=None, description="inline value (tests only)")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [name for name in ("env", "file", "value") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of env, file or value")
        return self

    def resolve(self) -> SecretStr:
        if self.env is not None:
            found = os.environ.get(self.env)
            if not found:
                raise ValueError(f"environment variable {self.env} is not set or empty")
            return SecretStr(found)
        if self.file is not None:
            try:
                text = self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read secret file {self.file}: {exc.strerror}") from None
            if not text:
                raise ValueError(f"secret file {self.file} is empty")
            return SecretStr(text)
        assert self.value is not None
        return self.value


def inline_secret(value: Any) -> Any:
    """Accept a plain string as an inline secret, for brevity in examples."""
    return {"value": value} if isinstance(value, str) else value
