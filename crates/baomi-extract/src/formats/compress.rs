//! Single-stream compression: gzip (multi-member), bzip2, xz, zstd. The decompressed stream
//! is one nested object named after this one minus its suffix (`a.txt.gz` → `a.txt`,
//! `x.tgz` → `x.tar`). It is read with no declared size, so the walker's budget bounds how
//! far a bomb may inflate.

use std::io::{self, BufReader, Cursor, Read};

use crate::{Blob, Ctx, FileType, FormatResult};

pub fn extract(ty: FileType, blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let input = BufReader::new(blob.open()?);
    let decoder: Box<dyn Read + '_> = match ty {
        FileType::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        FileType::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
        FileType::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(input)),
        FileType::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
        other => return Err(format!("{other} is not a compression format").into()),
    };
    let base = cx.path().rsplit('/').next().unwrap_or_default();
    let name = inner_name(ty, base);

    // Garbage that yields nothing at all is an unreadable object; a stream that breaks later
    // still hands over what it produced (a truncated .gz of a report is still a report).
    let mut rest = Tolerant {
        inner: decoder,
        error: None,
    };
    let mut first = Vec::new();
    (&mut rest).take(64 << 10).read_to_end(&mut first)?;
    if first.is_empty()
        && let Some(e) = rest.error.take()
    {
        return Err(e.into());
    }
    cx.read_child(&name, &mut Cursor::new(first).chain(&mut rest), None)?;
    if let Some(e) = rest.error {
        cx.unreadable("", format!("{ty} stream truncated or corrupt: {e}"));
    }
    Ok(())
}

/// The name of the decompressed object.
fn inner_name(ty: FileType, name: &str) -> String {
    let suffixes: &[(&str, &str)] = match ty {
        FileType::Gzip => &[(".tgz", ".tar"), (".gz", ""), (".gzip", ""), (".z", "")],
        FileType::Bzip2 => &[
            (".tbz2", ".tar"),
            (".tbz", ".tar"),
            (".bz2", ""),
            (".bzip2", ""),
        ],
        FileType::Xz => &[(".txz", ".tar"), (".xz", "")],
        FileType::Zstd => &[(".tzst", ".tar"), (".zst", ""), (".zstd", "")],
        _ => &[],
    };
    let lower = name.to_ascii_lowercase();
    for (suffix, replacement) in suffixes {
        if lower.ends_with(suffix) && lower.len() > suffix.len() {
            // The suffix is ASCII, so this byte index is a char boundary.
            let stem = &name[..name.len() - suffix.len()];
            return format!("{stem}{replacement}");
        }
    }
    format!("{name}.out")
}

/// Turns a decompression error into end of stream, keeping the error to report.
struct Tolerant<R> {
    inner: R,
    error: Option<io::Error>,
}

impl<R: Read> Read for Tolerant<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.error.is_some() {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                self.error = Some(e);
                Ok(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_names() {
        assert_eq!(inner_name(FileType::Gzip, "a.txt.gz"), "a.txt");
        assert_eq!(inner_name(FileType::Gzip, "x.TGZ"), "x.tar");
        assert_eq!(inner_name(FileType::Bzip2, "报告.doc.bz2"), "报告.doc");
        assert_eq!(inner_name(FileType::Xz, "b.tar.xz"), "b.tar");
        assert_eq!(inner_name(FileType::Zstd, "c.zst"), "c");
        assert_eq!(inner_name(FileType::Gzip, "noext"), "noext.out");
        assert_eq!(inner_name(FileType::Gzip, ".gz"), ".gz.out");
    }
}
