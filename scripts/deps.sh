#!/usr/bin/env bash
# Install the Debian packages Baomi needs.
#   runtime  what `baomi` uses at run time: poppler's pdftotext/pdftoppm as separate
#            processes (PDFs whose fonts defeat the built-in reader, image-only pages), with
#            poppler-data for the CJK CMaps; Tesseract and its Chinese/English data for OCR;
#            Noto CJK fonts for the PDF records (statistics table, clue reports).
#   build    runtime + what building with the `ocr` feature needs (Tesseract/Leptonica
#            headers, clang for bindgen).
#   test     build + the real tools the tests make their files with (LibreOffice, zip,
#            7-Zip, compressors, python-docx, CJK fonts, qpdf, ImageMagick, img2pdf), and
#            Synapse from PyPI in /opt/baomi-synapse-venv for the chat door's test.
set -euo pipefail
what=${1:-runtime}
pkgs=(poppler-utils poppler-data libtesseract5 tesseract-ocr-chi-sim tesseract-ocr-chi-tra
      tesseract-ocr-eng fonts-noto-cjk)
if [ "$what" = build ] || [ "$what" = test ]; then
  pkgs+=(libtesseract-dev libleptonica-dev clang libclang-dev pkg-config)
fi
if [ "$what" = test ]; then
  pkgs+=(libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui
         7zip zip unzip zstd xz-utils bzip2 tar gzip python3-docx qpdf
         imagemagick img2pdf)
  # The OCR held-out trials (crates/baomi-extract/tests/ocr_heldout.rs) render in fonts the
  # tuning set does not use: AR PL Kaiti and Mingti, WenQuanYi Zen Hei, cwTeX 仿宋.
  pkgs+=(fonts-arphic-ukai fonts-arphic-uming fonts-wqy-zenhei fonts-cwtex-fs)
  # exiftool writes the EXIF/XMP text fields (XPComment, UserComment…) of the test photos.
  pkgs+=(libimage-exiftool-perl)
  # The gateways' tests run against the real servers: Squid (the OpenSSL flavour, for
  # ssl-bump; it replaces Debian's GnuTLS `squid`) and c-icap-client for ICAP,
  # Postfix, swaks and miltertest for the milter, PostgreSQL for the second store backend.
  pkgs+=(squid-openssl c-icap postfix swaks miltertest postgresql curl iproute2 openssl)
  # The console's browser tests: Debian's Chromium driven through chromedriver.
  pkgs+=(chromium chromium-driver)
  # The print door's test (crates/baomi/tests/print.rs) runs a real cupsd and lp/lpadmin/
  # lpstat against it, with cups-pdf's backend beside Baomi's; Ghostscript is what the
  # backend reads PostScript jobs with (also installed on agents by install.sh --agent).
  pkgs+=(cups-daemon cups-client cups-bsd printer-driver-cups-pdf ghostscript)
  # `baomi traces`' tests build Windows hives with hivexregedit (libhivex-bin, and the Perl
  # module it runs on) and browser history databases with the sqlite3 CLI.
  pkgs+=(libhivex-bin libwin-hivex-perl sqlite3)
  # The API fuzzing (scripts/api-fuzz.sh) installs schemathesis from PyPI into a venv.
  pkgs+=(python3-venv)
  # The directory from LDAP (crates/baomi-server/tests/ldap.rs) runs a real OpenLDAP:
  # slapd in a temp dir, filled with ldapadd/ldapmodrdn (ldap-utils).
  pkgs+=(slapd ldap-utils)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# A venv of Debian's Python holding one pinned PyPI package, made when CHECK fails in it.
pypi_venv() {  # DIR CHECK SPEC
  local dir=$1 check=$2 spec=$3 sudo=""
  "$dir/bin/python" -c "$check" 2>/dev/null && return 0
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo /usr/bin/python3 -m venv "$dir"
  $sudo "$dir/bin/pip" install -q "$spec"
}
if [ "$what" = test ]; then
  # The chat door's test (crates/baomi/tests/chat_gateway.rs) runs a real Matrix homeserver:
  # Synapse from PyPI, pinned. The test puts our module (integrations/matrix-synapse) on its
  # PYTHONPATH, so the venv holds Synapse only.
  SYNAPSE_VERSION=1.163.2
  pypi_venv "${BAOMI_SYNAPSE_VENV:-/opt/baomi-synapse-venv}" \
    "import synapse, sys; sys.exit(synapse.__version__ != '$SYNAPSE_VERSION')" \
    "matrix-synapse==$SYNAPSE_VERSION"
  # The password-bank tests (crates/baomi-extract/tests/passwords.rs) encrypt OOXML with
  # msoffcrypto-tool from PyPI (Debian's 5.0 cannot encrypt).
  pypi_venv "${BAOMI_MSOFFCRYPTO_VENV:-/opt/baomi-msoffcrypto-venv}" "import msoffcrypto" \
    "msoffcrypto-tool==6.1.0"
fi
