//! Where body bytes go while they arrive: memory up to a threshold, then a temporary file
//! that is deleted when the last [`Blob`] clone referring to it is dropped.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use baomi_extract::Blob;
use tokio::io::AsyncWriteExt;

fn temp_file(dir: &Path) -> io::Result<(std::fs::File, tempfile::TempPath)> {
    let f = tempfile::Builder::new()
        .prefix("baomi-icap-")
        .tempfile_in(dir)?;
    Ok(f.into_parts())
}

fn file_blob(path: tempfile::TempPath, len: u64) -> Blob {
    Blob::from_temp(path, len)
}

/// A synchronous spool, for objects cut out of a body (form files, decoded gzip, form text).
pub(crate) struct Spool {
    threshold: u64,
    dir: PathBuf,
    mem: Vec<u8>,
    file: Option<(io::BufWriter<std::fs::File>, tempfile::TempPath)>,
    len: u64,
}

impl Spool {
    pub fn new(threshold: u64, dir: &Path) -> Spool {
        Spool {
            threshold,
            dir: dir.to_owned(),
            mem: Vec::new(),
            file: None,
            len: 0,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn finish(self) -> io::Result<Blob> {
        match self.file {
            None => Ok(Blob::from_vec(self.mem)),
            Some((w, path)) => {
                w.into_inner().map_err(|e| e.into_error())?.sync_data().ok();
                Ok(file_blob(path, self.len))
            }
        }
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.file.is_none() && self.len + buf.len() as u64 > self.threshold {
            let (f, path) = temp_file(&self.dir)?;
            let mut w = io::BufWriter::with_capacity(64 << 10, f);
            w.write_all(&self.mem)?;
            self.mem = Vec::new();
            self.file = Some((w, path));
        }
        match &mut self.file {
            Some((w, _)) => w.write_all(buf)?,
            None => self.mem.extend_from_slice(buf),
        }
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some((w, _)) => w.flush(),
            None => Ok(()),
        }
    }
}

/// The spool a body is received into, from the connection task.
pub(crate) struct AsyncSpool {
    threshold: u64,
    dir: PathBuf,
    mem: Vec<u8>,
    file: Option<(tokio::fs::File, tempfile::TempPath)>,
    len: u64,
}

impl AsyncSpool {
    pub fn new(threshold: u64, dir: &Path) -> AsyncSpool {
        AsyncSpool {
            threshold,
            dir: dir.to_owned(),
            mem: Vec::new(),
            file: None,
            len: 0,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub async fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.len + buf.len() as u64 > self.threshold {
            let dir = self.dir.clone();
            let (f, path) = tokio::task::spawn_blocking(move || temp_file(&dir))
                .await
                .map_err(io::Error::other)??;
            let mut f = tokio::fs::File::from_std(f);
            f.write_all(&self.mem).await?;
            self.mem = Vec::new();
            self.file = Some((f, path));
        }
        match &mut self.file {
            Some((f, _)) => f.write_all(buf).await?,
            None => self.mem.extend_from_slice(buf),
        }
        self.len += buf.len() as u64;
        Ok(())
    }

    pub async fn finish(self) -> io::Result<Blob> {
        match self.file {
            None => Ok(Blob::from_vec(self.mem)),
            Some((mut f, path)) => {
                f.flush().await?;
                Ok(file_blob(path, self.len))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn spills_to_a_file_above_the_threshold_and_deletes_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::new(10, dir.path());
        s.write_all(b"0123456").unwrap();
        s.write_all(b"789abc").unwrap();
        let blob = s.finish().unwrap();
        let path = blob.path().expect("spooled").to_owned();
        let mut got = Vec::new();
        blob.open().unwrap().read_to_end(&mut got).unwrap();
        assert_eq!(got, b"0123456789abc");
        assert_eq!(blob.len(), 13);
        drop(blob);
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn async_spool_small_stays_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = AsyncSpool::new(100, dir.path());
        s.write(b"abc").await.unwrap();
        let blob = s.finish().await.unwrap();
        assert!(blob.path().is_none());
        let mut s = AsyncSpool::new(2, dir.path());
        s.write(b"abc").await.unwrap();
        s.write(b"def").await.unwrap();
        let blob = s.finish().await.unwrap();
        assert_eq!(std::fs::read(blob.path().unwrap()).unwrap(), b"abcdef");
    }
}
