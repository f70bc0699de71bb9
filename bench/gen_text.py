#!/usr/bin/env python3
"""Deterministic Chinese benchmark text and dictionary for Baomi.

  gen_text.py text OUTDIR MEGABYTES [FILE_MEGABYTES]   OUTDIR/doc-0001.txt … (UTF-8)
  gen_text.py terms OUT.txt [COUNT]                    one term per line (default 10000)

The text is official prose (bench/prose.txt) cut into documents: a copy number, sometimes a
marking line (5 %), a title and 20–59 paragraphs, 10 % of them Traditional, 3 % followed by
a contact with a resident ID (valid check character) and a mobile, 3 % by a mobile alone.

crates/baomi-core/benches/detect.rs implements the same generator (same SplitMix64 stream,
same choices in the same order) over the same prose.txt, so the criterion bench text is a
prefix of the text this script writes, and the term lists are identical. Change both or
neither.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MASK64 = (1 << 64) - 1
TEXT_SEED = 0x9704_2012
TERMS_SEED = 0xB40_3141
TERMS_FROM_TEXT = 500

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK_CHARS = "10X98765432"
ID_REGIONS = ["110105", "310104", "440106", "330106", "510107", "420106", "370102", "610113"]
MOBILE_PREFIXES = ["138", "139", "150", "151", "186", "187", "135", "177"]


class SplitMix64:
    """Sebastiano Vigna's SplitMix64: tiny, and trivially identical in Python and Rust."""

    def __init__(self, seed: int):
        self.state = seed & MASK64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        return self.next() % n

    def pick(self, items):
        return items[self.below(len(items))]


def load_prose(path: str = os.path.join(HERE, "prose.txt")) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    with open(path, encoding="utf-8") as src:
        for raw in src:
            line = raw.rstrip("\n")
            if line.startswith("## "):
                current = line[3:].strip()
                sections[current] = []
            elif line.startswith("#") or not line.strip():
                continue
            elif current is None:
                sys.exit(f"{path}: entry before the first section: {line!r}")
            else:
                sections[current].append(line)
    return sections


def resident_id(rng: SplitMix64) -> str:
    region = rng.pick(ID_REGIONS)
    year = 1950 + rng.below(55)
    month = 1 + rng.below(12)
    day = 1 + rng.below(28)
    sequence = rng.below(1000)
    first17 = f"{region}{year:04d}{month:02d}{day:02d}{sequence:03d}"
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS))
    return first17 + ID_CHECK_CHARS[total % 11]


def mobile(rng: SplitMix64) -> str:
    prefix = rng.pick(MOBILE_PREFIXES)
    return f"{prefix}{rng.below(100_000_000):08d}"


def documents(prose: dict[str, list[str]]):
    """Endless stream of documents, each a str ending in a newline."""
    rng = SplitMix64(TEXT_SEED)
    surnames = list(prose["surnames"][0])
    while True:
        lines = [f"{rng.below(1_000_000):06d}"]
        if rng.below(100) < 5:
            lines.append(rng.pick(prose["markings"]))
        lines.append(rng.pick(prose["titles"]))
        for _ in range(20 + rng.below(40)):
            source = "traditional" if rng.below(100) < 10 else "body"
            paragraph = rng.pick(prose[source])
            extra = rng.below(100)
            if extra < 3:
                name = rng.pick(surnames) + rng.pick(prose["given"])
                paragraph += f"联系人：{name}，身份证号{resident_id(rng)}，手机{mobile(rng)}。"
            elif extra < 6:
                paragraph += f"联系电话：{mobile(rng)}。"
            lines.append(paragraph)
        yield "\n".join(lines) + "\n"


def is_ideograph(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def terms(prose: dict[str, list[str]], count: int) -> list[str]:
    rng = SplitMix64(TERMS_SEED)
    chosen: list[str] = []
    seen: set[str] = set()
    # Some terms that do occur in the text, so the dictionary detector has work to do…
    attempts = 0
    while len(chosen) < min(TERMS_FROM_TEXT, count) and attempts < 100_000:
        attempts += 1
        chars = list(rng.pick(prose["body"]))
        length = 2 + rng.below(5)
        start = rng.below(max(1, len(chars) - length))
        term = "".join(chars[start : start + length])
        if len(term) == length and all(is_ideograph(c) for c in term) and term not in seen:
            seen.add(term)
            chosen.append(term)
    # …and the rest random 2–6 character words, as in a real term list most never occur.
    pool = list(prose["pool"][0])
    while len(chosen) < count:
        length = 2 + rng.below(5)
        term = "".join(rng.pick(pool) for _ in range(length))
        if term not in seen:
            seen.add(term)
            chosen.append(term)
    return chosen


def write_text(out_dir: str, megabytes: float, file_megabytes: float) -> None:
    os.makedirs(out_dir, exist_ok=True)
    total_target = int(megabytes * 1_000_000)
    file_target = int(file_megabytes * 1_000_000)
    stream = documents(load_prose())
    written = 0
    number = 0
    while written < total_target:
        number += 1
        chunks = []
        size = 0
        while size < file_target and written + size < total_target:
            document = next(stream).encode("utf-8")
            chunks.append(document)
            size += len(document)
        with open(os.path.join(out_dir, f"doc-{number:04d}.txt"), "wb") as out:
            out.write(b"".join(chunks))
        written += size
    print(f"gen_text.py: {written / 1e6:.1f} MB in {number} files in {out_dir}", file=sys.stderr)


def main() -> None:
    args = sys.argv[1:]
    if len(args) in (3, 4) and args[0] == "text":
        write_text(args[1], float(args[2]), float(args[3]) if len(args) == 4 else 2.0)
    elif len(args) in (2, 3) and args[0] == "terms":
        count = int(args[2]) if len(args) == 3 else 10_000
        with open(args[1], "w", encoding="utf-8") as out:
            out.writelines(term + "\n" for term in terms(load_prose(), count))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
