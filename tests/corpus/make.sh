#!/usr/bin/env bash
# Build Baomi's real-file test corpus into OUTDIR.
#
#   tests/corpus/make.sh OUTDIR
#
# Every office file is made by LibreOffice from a flat-ODF source (make_sources.py), every
# archive by the real archiver (zip, 7-Zip, tar), the mail by Python's email package
# (make_mail.py). What Baomi should find in each file is in EXPECTED.md next to this script.
#
# Idempotent: files are built in a temporary directory, checked, then moved into OUTDIR
# (overwriting earlier copies; other files in OUTDIR are left alone). Fails loudly.
# Needs: soffice, zip, unzip, 7zz (or 7z), tar, gzip, python3, pdftotext.
set -euo pipefail

die() {
    echo "make.sh: $*" >&2
    exit 1
}

[[ $# -eq 1 ]] || die "usage: $0 OUTDIR"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)

for tool in soffice zip unzip tar gzip python3 pdftotext; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
done
sevenzip=$(command -v 7zz || command -v 7z) || die "missing tool: 7zz (or 7z)"

stage=$(mktemp -d "${TMPDIR:-/tmp}/baomi-corpus.XXXXXX")
trap 'rm -rf "$stage"' EXIT
src=$stage/src       # flat-ODF and text sources
conv=$stage/conv     # LibreOffice output, one directory per target format
build=$stage/build   # the corpus as it will appear in OUTDIR
mkdir -p "$src" "$conv" "$build"

python3 "$here/make_sources.py" "$src"

# One LibreOffice call per target format. A private profile, so that a LibreOffice already
# running for the user (or another build) neither blocks nor receives the conversion.
convert() {
    local format=$1
    shift
    (cd "$src" && soffice -env:UserInstallation="file://$stage/lo-profile" --headless \
        --convert-to "$format" --outdir "$conv/$format" "$@") >"$stage/soffice-$format.log" 2>&1 \
        || { cat "$stage/soffice-$format.log" >&2; die "soffice --convert-to $format failed"; }
    local input
    for input in "$@"; do
        # soffice exits 0 even when a conversion fails: check the output exists.
        [[ -s $conv/$format/${input%.*}.$format ]] \
            || { cat "$stage/soffice-$format.log" >&2; die "soffice made no $format from $input"; }
    done
}
convert docx notice-secret.fodt report-clean.fodt
convert odt minutes.fodt
convert xlsx table.fods
convert pptx slides.fodp
convert pdf notice-secret.fodt
convert doc notice-secret.fodt
convert xls table.fods

# --- Office documents and plain text --------------------------------------------------------
cp "$conv/docx/notice-secret.docx" "$conv/docx/report-clean.docx" "$build/"
cp "$conv/odt/minutes.odt" "$conv/xlsx/table.xlsx" "$conv/pptx/slides.pptx" "$build/"
cp "$conv/pdf/notice-secret.pdf" "$build/notice.pdf"
# Word/Excel 97-2003 as LibreOffice writes them; WPS Office saves the same binary formats
# under .wps/.et, which must read without a type mismatch.
cp "$conv/doc/notice-secret.doc" "$conv/xls/table.xls" "$build/"
cp "$conv/doc/notice-secret.doc" "$build/通知.wps"
cp "$src/关于调整人员的通知（秘密）.txt" "$src/gbk-notice.txt" "$src/utf16.txt" "$build/"

# --- Disguises ------------------------------------------------------------------------------
cp "$build/notice-secret.docx" "$build/holiday-photo.jpg"
cp "$build/notice-secret.docx" "$build/noext"

# --- Archives -------------------------------------------------------------------------------
# bundle.zip: entry names in GBK without the UTF-8 flag, as Chinese Windows tools write them.
python3 "$here/make_special.py" gbk-zip "$build/bundle.zip" \
    "$build/notice-secret.docx=会议材料/notice-secret.docx" \
    "$build/report-clean.docx=会议材料/report-clean.docx" \
    "$build/table.xlsx=会议材料/table.xlsx" \
    "$src/关于调整人员的通知（秘密）.txt=会议材料/关于调整人员的通知（秘密）.txt"

bundle=$stage/bundle
mkdir -p "$bundle/会议材料"
cp "$build/notice-secret.docx" "$build/report-clean.docx" "$build/table.xlsx" \
    "$src/关于调整人员的通知（秘密）.txt" "$bundle/会议材料/"
(cd "$bundle" && "$sevenzip" a -bd -bso0 "$build/bundle.7z" 会议材料)
tar -C "$bundle" -czf "$build/bundle.tar.gz" 会议材料

# Encrypted: ZipCrypto (names visible), 7z AES with encrypted headers (names hidden too),
# zip AES-256 (names visible).
(cd "$build" && zip -q -X -P 1234 "$stage/secret-locked.zip" notice-secret.docx)
(cd "$build" && "$sevenzip" a -bd -bso0 -p1234 -mhe=on "$stage/secret-aes.7z" notice-secret.docx)
(cd "$build" && "$sevenzip" a -bd -bso0 -tzip -p1234 -mem=AES256 "$stage/aes.zip" notice-secret.docx)
mv "$stage/secret-locked.zip" "$stage/secret-aes.7z" "$stage/aes.zip" "$build/"

# --- Mail -----------------------------------------------------------------------------------
# The secret docx inside a zip inside an .eml.
attach=$stage/attach
mkdir -p "$attach"
cp "$build/notice-secret.docx" "$attach/重点项目核查通知.docx"
(cd "$attach" && "$sevenzip" a -bd -bso0 -tzip "$stage/材料.zip" 重点项目核查通知.docx)
python3 "$here/make_mail.py" eml "$build/leak.eml" "$stage/材料.zip"
python3 "$here/make_mail.py" mbox "$build/inbox.mbox"

# --- Bombs and garbage ----------------------------------------------------------------------
python3 "$here/make_special.py" bomb "$build/bomb.zip"

# deep.zip: a marked text file at the bottom of ten levels of zip.
deep=$stage/deep
mkdir -p "$deep"
printf '机密★5年\r\n关于专项核查结果的报告\r\n（本文件位于第十层压缩包内）\r\n' >"$deep/deep-secret.txt"
inner=deep-secret.txt
for level in 01 02 03 04 05 06 07 08 09 10; do
    (cd "$deep" && zip -q -X "level$level.zip" "$inner")
    inner=level$level.zip
done
mv "$deep/level10.zip" "$build/deep.zip"

docx_size=$(stat -c %s "$build/notice-secret.docx")
head -c $((docx_size / 2)) "$build/notice-secret.docx" >"$build/truncated.docx"
# Seed 1: bytes that `file` calls "data" (some seeds start like an OpenPGP key).
python3 "$here/make_special.py" garbage "$build/garbage.pdf" 16384 1

# --- Check that each file is what it claims (or, for the broken ones, is broken) ------------
check() {
    "$@" >"$stage/check.log" 2>&1 || { cat "$stage/check.log" >&2; die "check failed: $*"; }
}
for file in notice-secret.docx report-clean.docx minutes.odt table.xlsx slides.pptx \
    holiday-photo.jpg noext bundle.zip secret-locked.zip bomb.zip deep.zip; do
    check unzip -tqq -P 1234 "$build/$file"
done
check "$sevenzip" t -p1234 "$build/bundle.7z"
check "$sevenzip" t -p1234 "$build/secret-aes.7z"
check "$sevenzip" t -p1234 "$build/aes.zip"
check tar -tzf "$build/bundle.tar.gz"
pdftotext "$build/notice.pdf" - | grep -q '机密★10' || die "notice.pdf: marking not in the text layer"
unzip -p "$build/notice-secret.docx" word/header1.xml | grep -q '机密★' \
    || die "notice-secret.docx: marking not in the page header"
unzip -p "$build/minutes.odt" styles.xml | grep -q '秘密' || die "minutes.odt: marking not in the header"
unzip -p "$build/slides.pptx" 'ppt/slides/slide1.xml' | grep -q '内部资料 注意保存' \
    || die "slides.pptx: marking not on slide 1"
[[ $(unzip -p "$build/table.xlsx" xl/sharedStrings.xml | grep -oE '[0-9]{17}[0-9X]' | wc -l) -eq 12 ]] \
    || die "table.xlsx: expected 12 resident IDs"
if unzip -tqq "$build/truncated.docx" >/dev/null 2>&1; then die "truncated.docx is not broken"; fi
if pdftotext "$build/garbage.pdf" - >/dev/null 2>&1; then die "garbage.pdf parses as a PDF"; fi
grep -q '^Subject: =?GBK?B?' "$build/leak.eml" || die "leak.eml: subject is not a GBK encoded-word"
[[ $(grep -c '^From ' "$build/inbox.mbox") -eq 3 ]] || die "inbox.mbox: expected 3 messages"

# --- Publish --------------------------------------------------------------------------------
cp -f "$build"/* "$out/"
echo "make.sh: $(find "$build" -maxdepth 1 -type f | wc -l) files in $out"
