"""Password hashes: argon2id through argon2-cffi (the reference implementation's
binding), with its default, memory-hard parameters."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
# verified when the user does not exist, so a wrong name takes as long as a wrong password
_DUMMY = _HASHER.hash("not-a-password")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def looks_like_hash(text: str) -> bool:
    return text.startswith(("$argon2id$", "$argon2i$", "$argon2d$"))
