//! NDJSON files and stdin, line by line, with line numbers. Gzip and zstd
//! files (recognised by their magic bytes, not their names) are decompressed
//! on the fly, so archived logs replay as they are.
//!
//! A line longer than the limit is not held in memory whole: its first
//! `limit + 1` bytes are kept (enough to report and dead-letter it with its
//! true length) and the rest is skipped up to the newline.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Reads lines from one input.
pub struct LineReader {
    inner: Box<dyn BufRead + Send>,
    name: String,
    line: u64,
    limit: usize,
    /// Bytes read so far from the file or stdin (compressed bytes for a
    /// compressed file), counted per read of the underlying input (64 KiB).
    read: Arc<AtomicU64>,
    /// The file's size, when known (not for stdin or pipes).
    size: Option<u64>,
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One line read: its number and full length (which may exceed what `buf` holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    pub number: u64,
    pub len: usize,
}

impl LineReader {
    /// Opens a file, or stdin for `-`.
    pub fn open(path: &Path, limit: usize) -> io::Result<LineReader> {
        let read = Arc::new(AtomicU64::new(0));
        let (inner, name, size): (Box<dyn BufRead + Send>, String, Option<u64>) = if path == Path::new("-") {
            let stdin = Counting {
                inner: io::stdin(),
                read: read.clone(),
            };
            (Box::new(BufReader::with_capacity(1 << 16, stdin)), "-".into(), None)
        } else {
            let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
            let f = File::open(path).map_err(named)?;
            let meta = f.metadata().map_err(named)?;
            let size = meta.is_file().then_some(meta.len());
            let f = Counting {
                inner: f,
                read: read.clone(),
            };
            (decompressed(f).map_err(named)?, path.display().to_string(), size)
        };
        let mut r = Self::from_reader(inner, name, limit);
        r.read = read;
        r.size = size;
        Ok(r)
    }

    pub fn from_reader(inner: Box<dyn BufRead + Send>, name: String, limit: usize) -> Self {
        LineReader {
            inner,
            name,
            line: 0,
            limit,
            read: Arc::new(AtomicU64::new(0)),
            size: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes read from the input so far (for progress; compressed files
    /// count their compressed bytes, so this reaches [`LineReader::size`]).
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// The input's size in bytes, when it is a regular file.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Reads the next line (without its `\n` / `\r\n`) into `buf`.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<Line>> {
        buf.clear();
        let mut total = 0usize;
        let mut saw_newline = false;
        loop {
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let (take, done) = match memchr(chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            let room = (self.limit + 1).saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..take.min(room)]);
            total += take;
            self.inner.consume(take + done as usize);
            if done {
                saw_newline = true;
                break;
            }
        }
        if total == 0 && !saw_newline && buf.is_empty() {
            return Ok(None);
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
            total -= 1;
        }
        self.line += 1;
        Ok(Some(Line {
            number: self.line,
            len: total,
        }))
    }
}

/// The file's bytes, decompressed when they start with a gzip or zstd magic.
fn decompressed<R: Read + Send + 'static>(f: R) -> io::Result<Box<dyn BufRead + Send>> {
    const GZIP: &[u8] = &[0x1f, 0x8b];
    const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
    let mut raw = BufReader::with_capacity(1 << 16, f);
    let head = raw.fill_buf()?;
    Ok(if head.starts_with(GZIP) {
        // Multi-member: `cat a.gz b.gz` and bgzip files are valid gzip streams.
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(raw),
        ))
    } else if head.starts_with(ZSTD) {
        let z = ruzstd::decoding::StreamingDecoder::new(raw)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}")))?;
        Box::new(BufReader::with_capacity(1 << 16, z))
    } else {
        Box::new(raw)
    })
}

fn memchr(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Reads a whole small file (used by tests and tools).
pub fn read_all(path: &Path) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    File::open(path)?.read_to_end(&mut v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &'static [u8], limit: usize) -> Vec<(u64, usize, Vec<u8>)> {
        let mut r = LineReader::from_reader(Box::new(input), "t".into(), limit);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(l) = r.next_line(&mut buf).unwrap() {
            out.push((l.number, l.len, buf.clone()));
        }
        out
    }

    fn read_file(bytes: &[u8]) -> Vec<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in");
        std::fs::write(&p, bytes).unwrap();
        let mut r = LineReader::open(&p, 1 << 20).unwrap();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while r.next_line(&mut buf).unwrap().is_some() {
            out.push(buf.clone());
        }
        out
    }

    #[test]
    fn gzip_and_zstd_files_are_read_transparently() {
        use std::io::Write;
        let text = b"{\"a\":1}\n{\"b\":2}\n";
        let want = vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()];
        assert_eq!(read_file(text), want, "plain");
        let mut gz = Vec::new();
        for half in [&text[..8], &text[8..]] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(half).unwrap();
            gz.extend(e.finish().unwrap());
        }
        assert_eq!(read_file(&gz), want, "two gzip members");
        let zst = ruzstd::encoding::compress_to_vec(&text[..], ruzstd::encoding::CompressionLevel::Fastest);
        assert_eq!(read_file(&zst), want, "zstd");
        assert!(LineReader::open(Path::new("/nonexistent/x.gz"), 10).is_err());
    }

    #[test]
    fn counts_bytes_read_against_the_file_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in");
        std::fs::write(&p, b"{\"a\":1}\n{\"b\":2}\n").unwrap();
        let mut r = LineReader::open(&p, 1 << 20).unwrap();
        assert_eq!(r.size(), Some(16));
        let mut buf = Vec::new();
        while r.next_line(&mut buf).unwrap().is_some() {}
        assert_eq!(r.bytes_read(), 16);
    }

    #[test]
    fn numbers_lines_and_caps_long_ones() {
        let got = lines(b"a\r\n\nbbbbbbbb\nc", 4);
        assert_eq!(
            got,
            vec![
                (1, 1, b"a".to_vec()),
                (2, 0, b"".to_vec()),
                (3, 8, b"bbbbb".to_vec()),
                (4, 1, b"c".to_vec())
            ]
        );
    }
}
