"""Encrypt an OOXML file with a password, for the password-bank tests (tests/passwords.rs).

    encrypt_ooxml.py agile|standard IN.docx OUT.docx PASSWORD

Runs with the msoffcrypto-tool venv of scripts/deps.sh (/opt/baomi-msoffcrypto-venv).

- agile: msoffcrypto-tool's own encryptor (AES-256-CBC, SHA-512, spin count 100,000), as
  Office 2010+ and LibreOffice write it.
- standard (Office 2007: AES-128-ECB, SHA-1 spun 50,000 times): msoffcrypto-tool decrypts
  this scheme but cannot write it, so the EncryptionInfo is assembled here to MS-OFFCRYPTO
  2.3.4.5-2.3.4.9, with msoffcrypto's own key derivation (makekey_from_password) and its
  compound-file writer; msoffcrypto's verifier check and decryptor then read the result
  back before it is written.
"""

import io
import os
import struct
import sys
from hashlib import sha1

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from msoffcrypto.format.ooxml import OOXMLFile
from msoffcrypto.method.container.ecma376_encrypted import ECMA376Encrypted
from msoffcrypto.method.ecma376_standard import ECMA376Standard


def aes_ecb(key, data):
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(data) + enc.finalize()


def standard(package, password):
    alg_id, alg_id_hash, provider, key_bits = 0x660E, 0x8004, 0x18, 128
    salt = os.urandom(16)
    key = ECMA376Standard.makekey_from_password(
        password, alg_id, alg_id_hash, provider, key_bits, 16, salt
    )
    csp = "Microsoft Enhanced RSA and AES Cryptographic Provider\0".encode("utf-16-le")
    flags = 0x24  # fCryptoAPI | fAES
    header = struct.pack("<8I", flags, 0, alg_id, alg_id_hash, key_bits, provider, 0, 0) + csp
    verifier = os.urandom(16)
    verifier_hash = sha1(verifier).digest() + b"\0" * 12
    enc_verifier = aes_ecb(key, verifier)
    enc_verifier_hash = aes_ecb(key, verifier_hash)
    info = (
        struct.pack("<HHI", 4, 2, flags)
        + struct.pack("<I", len(header))
        + header
        + struct.pack("<I", 16)
        + salt
        + enc_verifier
        + struct.pack("<I", 20)
        + enc_verifier_hash
    )
    padded = package + b"\0" * (-len(package) % 16)
    encrypted = struct.pack("<Q", len(package)) + aes_ecb(key, padded)
    # Read back with msoffcrypto's own verifier check and decryptor.
    assert ECMA376Standard.verifykey(key, enc_verifier, enc_verifier_hash)
    assert ECMA376Standard.decrypt(key, io.BytesIO(encrypted)) == package
    out = io.BytesIO()
    ECMA376Encrypted(encrypted, info).write_to(out)
    return out.getvalue()


def main():
    scheme, src, dst, password = sys.argv[1:5]
    with open(src, "rb") as f:
        package = f.read()
    if scheme == "agile":
        out = io.BytesIO()
        OOXMLFile(io.BytesIO(package)).encrypt(password, out)
        data = out.getvalue()
    elif scheme == "standard":
        data = standard(package, password)
    else:
        sys.exit(f"unknown scheme {scheme}")
    with open(dst, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
