"""Password hashing (Argon2id via argon2-cffi) and the password policy."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

# Vietnamese passwords common enough to refuse, on top of zxcvbn's 30,000 most common passwords.
VIETNAMESE_COMMON = """
matkhau matkhau1 matkhau123 matkhau@123 anhyeuem emyeuanh yeuem yeuanh iloveyou 123456a 123456aa
12345678a 123456789a 1234567890a abc@123 abc123456 admin@123 admin123 hocbaso hocbaso123 giaovien
giaovien123 hieutruong hocsinh hocsinh123 vietnam vietnam123 vietnam@123 truonghoc qwerty123 hanoi
saigon hochiminh 11111111 00000000 88888888 66666666 99999999 12341234 password@123 passw0rd
""".split()


@functools.cache
def common_passwords() -> frozenset[str]:
    """Return the lower-cased set of passwords refused as too common."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"]) | frozenset(VIETNAMESE_COMMON)


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return _make_hasher(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_KIB"], cfg["ARGON2_PARALLELISM"])


@functools.cache
def _make_hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)


def hash_password(password: str) -> str:
    """Hash a password with Argon2id at the configured cost."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Check a password against its hash in constant time."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Tell whether a hash was made with weaker parameters than configured."""
    return _hasher().check_needs_rehash(password_hash)


# A valid hash to verify against when the account does not exist, so both paths cost the same.
@functools.cache
def dummy_hash() -> str:
    return hash_password("không-có-tài-khoản-này")


def password_problems(password: str, *, username: str = "", min_length: int = 8) -> list[str]:
    """Return what is wrong with a new password, in Vietnamese (empty when it is acceptable)."""
    problems = []
    if len(password) < min_length:
        problems.append(f"Mật khẩu phải có ít nhất {min_length} ký tự.")
    if len(password) > 128:
        problems.append("Mật khẩu không được dài quá 128 ký tự.")
    lowered = password.lower()
    if lowered in common_passwords():
        problems.append("Mật khẩu này quá phổ biến, dễ bị đoán. Hãy chọn mật khẩu khác.")
    if username and len(username) >= 3 and username.lower() in lowered:
        problems.append("Mật khẩu không được chứa tên đăng nhập.")
    return problems
