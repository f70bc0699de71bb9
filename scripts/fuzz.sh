#!/usr/bin/env bash
# Coverage-guided fuzzing of Baomi's parsers (cargo-fuzz / libFuzzer, stable Rust, -s none).
#
#   scripts/fuzz.sh seed              rebuild the committed seed corpus fuzz/corpus/
#   scripts/fuzz.sh smoke [SECONDS]   build every target, run each SECONDS (default 5) over
#                                     the committed corpus (CI)
#   scripts/fuzz.sh run SECONDS [TARGET…]
#                                     fuzz each TARGET (default: all) for SECONDS; the grown
#                                     corpus goes to fuzz/work/corpus/<target>, crashes to
#                                     fuzz/work/artifacts/<target>, logs to fuzz/work/logs;
#                                     one summary line per target on stdout
#
# The invariants besides "no panic escapes" (see crates/baomi-fuzz): libFuzzer's
# -rss_limit_mb=512 and -timeout=10. A crash, hang or out-of-memory input is minimised
# (`cargo fuzz tmin -s none TARGET FILE`) into fuzz/regressions/<target>/, which
# `cargo test -p baomi-fuzz` replays.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz=$here/fuzz
cd "$fuzz"

targets() { sed -n 's/^name = "\([a-z0-9]*\)"$/\1/p' Cargo.toml | grep -v '^baomi-fuzz-targets$'; }
flags=(-rss_limit_mb=512 -timeout=10 -max_len=1048576)

dict_for() {
    local d=$fuzz/dict/$1.dict
    [ -f "$d" ] && echo "-dict=$d"
    return 0
}

build() {
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    cargo fuzz build -s none --target-dir "$target_dir"
}

# CARGO_TARGET_DIR (CI keeps one between runs) or the harness's own fuzz/target.
target_dir=${CARGO_TARGET_DIR:-$fuzz/target}
bin_of() { echo "$target_dir/x86_64-unknown-linux-gnu/release/$1"; }

case ${1:-} in
seed)
    work=$(mktemp -d "${TMPDIR:-/tmp}/baomi-seeds.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    "$here/tests/corpus/make.sh" "$work/made" >/dev/null
    m=$work/made
    put() { mkdir -p "corpus/$1"; cp "$2" "corpus/$1/${3:-$(basename "$2")}"; }
    for f in "$m"/*; do put walk "$f"; done
    put zip "$m/bundle.zip"; put zip "$m/deep.zip"; put zip "$m/aes.zip"; put zip "$m/bomb.zip"
    put sevenz "$m/bundle.7z"; put sevenz "$m/secret-aes.7z"
    put compress "$m/bundle.tar.gz"
    for f in "$here"/crates/baomi-extract/tests/fixtures/rar/*.rar; do put rar "$f"; done
    put ooxml "$m/notice-secret.docx"; put ooxml "$m/table.xlsx"; put ooxml "$m/slides.pptx"
    put ooxml "$m/truncated.docx"
    put odf "$m/minutes.odt"
    put pdf "$m/notice.pdf"; put pdf "$m/garbage.pdf"
    put mail "$m/leak.eml"; put mbox "$m/inbox.mbox"
    put legacy "$m/notice-secret.doc"; put legacy "$m/table.xls"; put legacy "$m/通知.wps"
    put exif "$m/holiday-photo.jpg"; put image "$m/holiday-photo.jpg"
    put encoding "$m/gbk-notice.txt"; put encoding "$m/utf16.txt"
    # Made here with the real tools: tar, the compressors, LibreOffice (rtf, ppt, ods,
    # odp), ImageMagick (images with text to OCR).
    t=$work/t; mkdir -p "$t/d"
    printf '机密★5年\n关于调整人员的通知\n' > "$t/d/通知.txt"
    printf 'plain\n' > "$t/d/b.txt"
    tar -C "$t/d" -cf "$t/a.tar" . && put tar "$t/a.tar"
    tar -C "$t/d" --format=gnu -cf "$t/gnu.tar" . && put tar "$t/gnu.tar"
    for c in gzip bzip2 xz zstd; do
        "$c" -c "$t/d/通知.txt" > "$t/n.$c" 2>/dev/null && put compress "$t/n.$c"
    done
    soffice -env:UserInstallation=file://$t/profile --headless --convert-to rtf --outdir "$t" "$m/minutes.odt" >/dev/null 2>&1
    put rtf "$t/minutes.rtf"
    soffice -env:UserInstallation=file://$t/profile --headless --convert-to ppt --outdir "$t" "$m/slides.pptx" >/dev/null 2>&1
    put legacy "$t/slides.ppt"
    soffice -env:UserInstallation=file://$t/profile --headless --convert-to ods --outdir "$t" "$m/table.xlsx" >/dev/null 2>&1
    put odf "$t/table.ods"
    font=$(fc-list :lang=zh -f '%{file}\n' | head -1)
    for ext in png gif bmp tiff webp; do
        convert -size 240x48 xc:white -font "$font" -pointsize 28 -fill black \
            -annotate +8+34 '机密★5年' "$t/mark.$ext" 2>/dev/null && put image "$t/mark.$ext"
    done
    put exif "$t/mark.png"
    exiftool -q -overwrite_original -XPComment='机密★5年' -ImageDescription='内部资料' \
        "$t/mark.tiff" && put exif "$t/mark.tiff" exif.tiff
    printf '<html><head><meta charset="utf-8"><title>通知</title></head><body><p>机密★5年</p><script>x</script></body></html>' > "$t/a.html"
    printf '<?xml version="1.0" encoding="GB2312"?>\n<doc><title>通知</title><p a="1">秘密</p></doc>' > "$t/a.xml"
    put markup "$t/a.html"; put markup "$t/a.xml"
    printf '{"msgs":[{"from":"\\u5f20\\u4e09","text":"\\u7535\\u8bdd\\uff1a13812345678"}]}' > "$t/chat.json"
    put encoding "$t/chat.json"
    printf '%s\n' 'README' 'report.docx' '附件.zip.jpg' '~$通知.docx' 'a.dat' > "$t/names"
    put sniff "$t/names"; put sniff "$m/notice-secret.docx"; put sniff "$m/notice.pdf"
    (cd "$here" && cargo run -q -p baomi-fuzz --example seeds -- fuzz/corpus)
    (cd "$here" && cargo test -q -p baomi-extract --test legacy -- --ignored write_fuzz_seed >/dev/null)
    (cd "$here" && cargo test -q -p baomi-extract --test documents -- --ignored write_fuzz_seed >/dev/null)
    du -sh corpus
    ;;
smoke)
    secs=${2:-5}
    build
    for t in $(targets); do
        scratch=$(mktemp -d)
        # The committed corpus is read-only input; new units go to a scratch directory.
        "$(bin_of "$t")" "${flags[@]}" $(dict_for "$t") -max_total_time="$secs" \
            -print_final_stats=1 "$scratch" "corpus/$t" 2>"$scratch.log" || {
            cat "$scratch.log" >&2
            echo "fuzz smoke: $t failed" >&2
            exit 1
        }
        echo "$t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch.log" | grep -o '[0-9]*$') runs"
        rm -rf "$scratch" "$scratch.log"
    done
    ;;
run)
    secs=${2:?seconds}
    shift 2
    list=("$@")
    [ ${#list[@]} -gt 0 ] || mapfile -t list < <(targets)
    build
    mkdir -p work/logs
    for t in "${list[@]}"; do
        mkdir -p "work/corpus/$t" "work/artifacts/$t"
        log=work/logs/$t.log
        start=$(date +%s)
        set +e
        "$(bin_of "$t")" "${flags[@]}" $(dict_for "$t") -max_total_time="$secs" \
            -print_final_stats=1 -artifact_prefix="work/artifacts/$t/" \
            "work/corpus/$t" "corpus/$t" >"$log" 2>&1
        rc=$?
        set -e
        end=$(date +%s)
        execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
        units=$(find "work/corpus/$t" -type f | wc -l)
        found=$(find "work/artifacts/$t" -type f | wc -l)
        echo "$t seconds=$((end - start)) execs=$execs cov=$cov corpus=$units artifacts=$found rc=$rc"
    done
    ;;
*)
    sed -n '2,16p' "$0" >&2
    exit 2
    ;;
esac
