use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Readable and seekable, for format crates that need both (zip, 7z).
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// The bytes of an object: in memory, or in a file (the scanned file itself, or a spool file
/// for a large nested entry, deleted when the last clone of the blob is dropped).
#[derive(Clone)]
pub enum Blob {
    Mem(Arc<Vec<u8>>),
    File {
        path: PathBuf,
        len: u64,
        /// Keeps a spooled temporary file alive.
        temp: Option<Arc<tempfile::TempPath>>,
    },
}

impl Blob {
    pub fn from_vec(v: Vec<u8>) -> Blob {
        Blob::Mem(Arc::new(v))
    }

    /// A spooled temporary file of `len` bytes, deleted when the last clone is dropped.
    pub fn from_temp(temp: tempfile::TempPath, len: u64) -> Blob {
        Blob::File {
            path: temp.to_path_buf(),
            len,
            temp: Some(std::sync::Arc::new(temp)),
        }
    }

    pub fn from_path(path: impl Into<PathBuf>) -> io::Result<Blob> {
        let path = path.into();
        let len = std::fs::metadata(&path)?.len();
        Ok(Blob::File {
            path,
            len,
            temp: None,
        })
    }

    pub fn len(&self) -> u64 {
        match self {
            Blob::Mem(v) => v.len() as u64,
            Blob::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `n` bytes (fewer if the blob is shorter), for sniffing.
    pub fn head(&self, n: usize) -> io::Result<Cow<'_, [u8]>> {
        match self {
            Blob::Mem(v) => Ok(Cow::Borrowed(&v[..n.min(v.len())])),
            Blob::File { path, .. } => {
                let mut buf = Vec::with_capacity(n);
                File::open(path)?.take(n as u64).read_to_end(&mut buf)?;
                Ok(Cow::Owned(buf))
            }
        }
    }

    /// A reader over the whole blob.
    pub fn open(&self) -> io::Result<Box<dyn ReadSeek + '_>> {
        match self {
            Blob::Mem(v) => Ok(Box::new(Cursor::new(v.as_slice()))),
            Blob::File { path, .. } => Ok(Box::new(io::BufReader::with_capacity(
                64 << 10,
                File::open(path)?,
            ))),
        }
    }

    /// All bytes in memory. Formats that need a slice call this; the walker's limits bound
    /// what a nested blob can be, and plain text is streamed through [`Blob::open`] instead.
    pub fn bytes(&self) -> io::Result<Cow<'_, [u8]>> {
        match self {
            Blob::Mem(v) => Ok(Cow::Borrowed(v.as_slice())),
            Blob::File { path, .. } => Ok(Cow::Owned(std::fs::read(path)?)),
        }
    }

    /// A path on disk holding the bytes (spooling an in-memory blob), for libraries that only
    /// take paths (unrar) or for separate processes (pdftotext). Keep the returned guard alive
    /// while the path is used.
    pub fn on_disk(&self) -> io::Result<(PathBuf, Option<tempfile::TempPath>)> {
        match self {
            Blob::File { path, .. } => Ok((path.clone(), None)),
            Blob::Mem(v) => {
                let mut f = tempfile::Builder::new().prefix("baomi-").tempfile()?;
                io::Write::write_all(&mut f, v)?;
                let tp = f.into_temp_path();
                Ok((tp.to_path_buf(), Some(tp)))
            }
        }
    }

    /// The path of a file-backed blob.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Blob::File { path, .. } => Some(path),
            Blob::Mem(_) => None,
        }
    }
}
