//! The message as it arrives: in memory up to a threshold, then in a spool file, so a
//! 100 MB message is written to disk once and never held in memory.

use std::io;
use std::path::PathBuf;

use baomi_extract::Blob;
use tokio::io::AsyncWriteExt;

/// Bytes appended in order, kept in memory until `threshold`, then streamed to a temporary
/// file in `dir` (deleted when the last [`Blob`] clone holding it is dropped).
pub(crate) struct Spool {
    threshold: u64,
    dir: PathBuf,
    len: u64,
    state: State,
}

enum State {
    Mem(Vec<u8>),
    File {
        writer: tokio::io::BufWriter<tokio::fs::File>,
        temp: tempfile::TempPath,
    },
}

impl Spool {
    pub(crate) fn new(threshold: u64, dir: PathBuf) -> Spool {
        Spool {
            threshold,
            dir,
            len: 0,
            state: State::Mem(Vec::new()),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let State::Mem(buf) = &mut self.state {
            if self.len + bytes.len() as u64 <= self.threshold {
                buf.extend_from_slice(bytes);
                self.len += bytes.len() as u64;
                return Ok(());
            }
            let in_memory = std::mem::take(buf);
            let dir = self.dir.clone();
            // Creating the file is a blocking call; it happens once per large message.
            let named = tokio::task::spawn_blocking(move || {
                tempfile::Builder::new()
                    .prefix("baomi-mail-")
                    .suffix(".eml")
                    .tempfile_in(dir)
            })
            .await
            .map_err(io::Error::other)??;
            let (file, temp) = named.into_parts();
            let mut writer =
                tokio::io::BufWriter::with_capacity(256 << 10, tokio::fs::File::from_std(file));
            writer.write_all(&in_memory).await?;
            self.state = State::File { writer, temp };
        }
        if let State::File { writer, .. } = &mut self.state {
            writer.write_all(bytes).await?;
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// The bytes written so far as a blob; the spool file is closed and handed over.
    pub(crate) async fn finish(self) -> io::Result<Blob> {
        match self.state {
            State::Mem(buf) => Ok(Blob::from_vec(buf)),
            State::File { mut writer, temp } => {
                writer.flush().await?;
                writer.into_inner().sync_data().await.ok();
                Ok(Blob::from_temp(temp, self.len))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_stays_in_memory_large_goes_to_a_file_that_is_deleted_with_the_blob() {
        let dir = tempfile::tempdir().unwrap();
        let mut small = Spool::new(10, dir.path().to_path_buf());
        small.write(b"0123456789").await.unwrap();
        let blob = small.finish().await.unwrap();
        assert!(matches!(blob, Blob::Mem(_)));
        assert_eq!(blob.bytes().unwrap().as_ref(), b"0123456789");

        let mut large = Spool::new(10, dir.path().to_path_buf());
        large.write(b"01234").await.unwrap();
        large.write(b"56789A").await.unwrap();
        large.write(b"BC").await.unwrap();
        assert_eq!(large.len(), 13);
        let blob = large.finish().await.unwrap();
        let path = blob.path().unwrap().to_path_buf();
        assert!(path.starts_with(dir.path()));
        assert_eq!(blob.len(), 13);
        assert_eq!(blob.bytes().unwrap().as_ref(), b"0123456789ABC");
        drop(blob);
        assert!(!path.exists(), "spool file outlived its blob");
    }
}
