"""PKCS#11 tokens: the default SoftHSM2 store under instance/, PINs kept as instance secrets, keys on tokens.

Any PKCS#11 module works through the same code: a signer is (library path, token label, key label).
SoftHSM2 is configured by a generated `instance/softhsm/softhsm2.conf` whose token directory is also
under instance/; `SOFTHSM2_CONF` must be set before the library is first loaded in a process (`configure`
does it). Tokens are found by label, never by slot number (SoftHSM renumbers slots after initialisation).

PINs live in `instance/secrets/pkcs11.json` (mode 600): never in the database, Redis, logs or job
arguments. Keys are generated on the token, sensitive and never extractable; the public key is read back
as a SubjectPublicKeyInfo to build certificates.

PKCS#11 and fork(): a process that forked after the library was initialised must re-initialise it before
use (`pkcs11` refuses a session opened by the parent). `open_session` keeps one library object per
(path, pid) and re-initialises in a child, so a forking RQ worker and gunicorn are both safe.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import pkcs11
from asn1crypto import keys
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.rsa import encode_rsa_public_key

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
DEFAULT_TOKEN = "hocbaso"
_LIBS: dict[tuple[str, int], pkcs11.lib] = {}
_LOCK = threading.Lock()


class TokenError(Exception):
    """A token, key or PIN problem, with a message for the user (Vietnamese)."""


@dataclass(frozen=True)
class KeyRef:
    """Where a signing key lives: PKCS#11 module, token label, key label."""

    module: str
    token: str
    label: str


# --- SoftHSM2 under instance/ ---------------------------------------------------------------------------


def softhsm_dir(instance_path: str) -> str:
    return os.path.join(instance_path, "softhsm")


def configure(instance_path: str) -> str:
    """Write instance/softhsm/softhsm2.conf (if missing) and point SOFTHSM2_CONF at it; return its path."""
    folder = softhsm_dir(instance_path)
    tokens = os.path.join(folder, "tokens")
    os.makedirs(tokens, mode=0o700, exist_ok=True)
    conf = os.path.join(folder, "softhsm2.conf")
    if not os.path.exists(conf):
        with open(conf + ".tmp", "w", encoding="utf-8") as f:
            f.write(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
                    "slots.removable = false\n")
        os.replace(conf + ".tmp", conf)
    if os.environ.get("SOFTHSM2_CONF") != conf:
        os.environ["SOFTHSM2_CONF"] = conf
        _forget(SOFTHSM_MODULE)  # SoftHSM reads its configuration when the library is initialised
    return conf


def secrets_path(instance_path: str) -> str:
    return os.path.join(instance_path, "secrets", "pkcs11.json")


def load_pins(instance_path: str) -> dict[str, dict[str, str]]:
    """{token label: {"pin": …, "so_pin": …}} from instance/secrets/pkcs11.json."""
    try:
        with open(secrets_path(instance_path), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def save_pin(instance_path: str, token: str, *, pin: str, so_pin: str | None = None) -> None:
    path = secrets_path(instance_path)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    pins = load_pins(instance_path)
    pins[token] = {"pin": pin, **({"so_pin": so_pin} if so_pin else {})}
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(pins, f)
    os.replace(path + ".tmp", path)


def pin_for(instance_path: str, token: str) -> str:
    try:
        return load_pins(instance_path)[token]["pin"]
    except KeyError:
        raise TokenError(f"Chưa có mã PIN của token “{token}” trong instance/secrets/pkcs11.json.") from None


def init_softhsm_token(instance_path: str, label: str = DEFAULT_TOKEN) -> bool:
    """Create a SoftHSM2 token with random PINs unless one with this label exists; True when created."""
    configure(instance_path)
    if _token_exists(SOFTHSM_MODULE, label):
        return False
    pin, so_pin = secrets.token_hex(8), secrets.token_hex(8)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", pin],
                   check=True, capture_output=True, env={**os.environ})
    save_pin(instance_path, label, pin=pin, so_pin=so_pin)
    _forget(SOFTHSM_MODULE)  # the module caches its slot list: load it again to see the new token
    return True


# --- Library and sessions ------------------------------------------------------------------------------


def _forget(module: str) -> None:
    with _LOCK:
        for key in [k for k in _LIBS if k[0] == module]:
            lib = _LIBS.pop(key)
            try:
                lib.reinitialize()
            except Exception:  # noqa: BLE001 - best effort: the next use loads it again
                pass


def library(module: str) -> pkcs11.lib:
    """The module's library object for this process (re-initialised in a forked child)."""
    key = (module, os.getpid())
    with _LOCK:
        lib = _LIBS.get(key)
        if lib is None:
            if not os.path.exists(module):
                raise TokenError(f"Không tìm thấy thư viện PKCS#11 {module}.")
            lib = pkcs11.lib(module)
            if any(k[0] == module for k in _LIBS):  # loaded before a fork: start afresh in this process
                lib.reinitialize()
            _LIBS[key] = lib
        return lib


def _token_exists(module: str, label: str) -> bool:
    try:
        library(module).get_token(token_label=label)
        return True
    except pkcs11.NoSuchToken:
        return False


@contextmanager
def open_session(module: str, token_label: str, pin: str, *, rw: bool = False, verify_pin: bool = False):
    """Open a logged-in session on the token found by label (verify_pin: refuse to reuse this process's login,
    so that a PIN typed by an admin is really checked by the token)."""
    try:
        token = library(module).get_token(token_label=token_label)
    except pkcs11.NoSuchToken:
        raise TokenError(f"Không tìm thấy token “{token_label}” trong {module}.") from None
    except pkcs11.MultipleTokensReturned:
        raise TokenError(f"Có nhiều token cùng nhãn “{token_label}”.") from None
    try:
        session = token.open(user_pin=pin, rw=rw)
    except pkcs11.PinIncorrect:
        raise TokenError(f"Mã PIN của token “{token_label}” không đúng.") from None
    except pkcs11.UserAlreadyLoggedIn:
        if verify_pin:
            raise TokenError(f"Token “{token_label}” đang được dùng để ký; vui lòng thử lại sau ít phút.") from None
        # PKCS#11 logs in per application, not per session: another session of this process (another
        # request thread, a caller's open session) is logged in, so this one is too.
        session = token.open(rw=rw)
    try:
        yield session
    finally:
        session.close()


# --- Keys ------------------------------------------------------------------------------------------------


def generate_rsa_key(session, label: str, bits: int = 2048) -> keys.PublicKeyInfo:
    """Generate a sensitive, non-extractable RSA key pair on the token; return its public key."""
    key_id = secrets.token_bytes(8)
    public, _private = session.generate_keypair(
        KeyType.RSA, bits, id=key_id, label=label, store=True,
        private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True,
                          Attribute.PRIVATE: True},
        public_template={Attribute.VERIFY: True})
    return public_key_info(public)


def public_key_info(public) -> keys.PublicKeyInfo:
    rsa = keys.RSAPublicKey.load(encode_rsa_public_key(public))
    return keys.PublicKeyInfo({"algorithm": {"algorithm": "rsa"}, "public_key": rsa})


def find_private_key(session, label: str):
    try:
        return session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
    except pkcs11.NoSuchKey:
        raise TokenError(f"Không tìm thấy khóa “{label}” trên token.") from None


def find_public_key(session, label: str) -> keys.PublicKeyInfo:
    try:
        return public_key_info(session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label))
    except pkcs11.NoSuchKey:
        raise TokenError(f"Không tìm thấy khóa công khai “{label}” trên token.") from None


def has_key(session, label: str) -> bool:
    try:
        session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        return True
    except pkcs11.NoSuchKey:
        return False


def sign_sha256_rsa(session, label: str, data: bytes) -> bytes:
    """PKCS#1 v1.5 signature of SHA-256(data), computed on the token."""
    return find_private_key(session, label).sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)


def store_certificate(session, label: str, der: bytes) -> None:
    """Store a certificate on the token next to its key (same label and ID), replacing an older one."""
    from pkcs11.util.x509 import decode_x509_certificate

    key = find_private_key(session, label)
    for old in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label}):
        old.destroy()
    attrs = decode_x509_certificate(der)
    attrs.update({Attribute.TOKEN: True, Attribute.LABEL: label, Attribute.ID: key[Attribute.ID]})
    session.create_object(attrs)


def key_attributes(session, label: str) -> dict[str, bool]:
    key = find_private_key(session, label)
    return {"sensitive": bool(key[Attribute.SENSITIVE]), "extractable": bool(key[Attribute.EXTRACTABLE]),
            "always_sensitive": bool(key[Attribute.ALWAYS_SENSITIVE]),
            "never_extractable": bool(key[Attribute.NEVER_EXTRACTABLE])}
