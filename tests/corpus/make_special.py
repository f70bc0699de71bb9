#!/usr/bin/env python3
"""The corpus files no ordinary tool makes on purpose: a zip whose entry names are GBK
without the UTF-8 flag (what Windows' "send to compressed folder" and WinRAR on a Chinese
system write), a zip bomb, and random bytes.

Usage:
  make_special.py gbk-zip OUT.zip SRC=ENTRYNAME...   entry names stored as GBK, flag bit 11 clear
  make_special.py bomb OUT.zip                       42.zip-style nested bomb
  make_special.py garbage OUT SIZE SEED              SIZE deterministic pseudo-random bytes
"""

import io
import random
import sys
import zipfile


class GbkZipInfo(zipfile.ZipInfo):
    """Python's zipfile writes non-ASCII names as UTF-8 and sets the UTF-8 flag; Chinese
    Windows tools write the ANSI code page (GBK) and leave the flag clear. Reproduce the
    latter: readers must guess the encoding, which is the case under test."""

    def _encodeFilenameFlags(self):  # noqa: N802 (overrides zipfile's private hook)
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def gbk_zip(out_path: str, specs: list[str]) -> None:
    with zipfile.ZipFile(out_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for spec in specs:
            source, _, entry_name = spec.partition("=")
            if not entry_name:
                sys.exit(f"gbk-zip: expected SRC=ENTRYNAME, got {spec!r}")
            with open(source, "rb") as src:
                data = src.read()
            info = GbkZipInfo(entry_name, date_time=(2026, 3, 5, 9, 30, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    # Check what was written: the name bytes must be GBK and the UTF-8 flag clear.
    with zipfile.ZipFile(out_path) as archive:
        for info in archive.infolist():
            if info.flag_bits & 0x800:
                sys.exit(f"gbk-zip: {info.filename!r} was written with the UTF-8 flag")


def zip_bytes(entries: list[tuple[str, bytes]], level: int = 9) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def bomb(out_path: str) -> None:
    """42.zip's shape: 100 MiB of zeros zipped, ten copies per level, four levels of zips.
    Fully expanded that is 10^4 × 100 MiB ≈ 1 TB from a file of a few hundred kilobytes.
    Four levels keep the nesting under the default depth limit (8), so what must stop the
    walker is the expanded-bytes or ratio limit, not the depth limit."""
    mib = 1 << 20
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("0.bin", "w", force_zip64=True) as entry:
            chunk = bytes(mib)
            for _ in range(100):
                entry.write(chunk)
    level = buffer.getvalue()
    for depth in range(1, 5):
        level = zip_bytes([(f"lib{depth}-{copy}.zip", level) for copy in range(10)])
    with open(out_path, "wb") as out:
        out.write(level)


def garbage(out_path: str, size: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(out_path, "wb") as out:
        out.write(rng.randbytes(size))


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    command, out_path, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    if command == "gbk-zip":
        gbk_zip(out_path, rest)
    elif command == "bomb":
        bomb(out_path)
    elif command == "garbage" and len(rest) == 2:
        garbage(out_path, int(rest[0]), int(rest[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
