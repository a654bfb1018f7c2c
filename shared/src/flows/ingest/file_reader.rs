//! Reading an order file from S3 as a stream: gzip is recognised by its magic bytes and
//! decompressed on the fly, the stored bytes are hashed (SHA-256) as they pass, and the
//! text is checked to be UTF-8. Nothing is ever held whole in memory.
//!
//! Failures are told apart: S3 or the network failing is retryable; a file that is not
//! valid gzip or not UTF-8 is permanent (the same bytes will never read better).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use async_compression::tokio::bufread::GzipDecoder;
use aws_sdk_s3::error::ProvideErrorMetadata;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader, ReadBuf};

use super::limits::{Limit, LimitExceeded, OrderFileLimits};
use super::notification::ObjectRef;
use crate::ops::errors::ProcessError;

const BUFFER_BYTES: usize = 64 * 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What a first read of the file establishes before anything is imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentScan {
    /// Lower-case hex SHA-256 of the stored bytes (compressed, for a `.gz`).
    pub sha256_hex: String,
    /// Size of the stored bytes.
    pub size_bytes: i64,
}

/// Opens the object for reading, pinned to the notified version (or, on an unversioned
/// bucket, to the notified entity tag, so other content under the same key is refused
/// rather than imported under this notification).
pub async fn open(s3: &aws_sdk_s3::Client, object: &ObjectRef) -> Result<TextReader, ProcessError> {
    let source = get_object(s3, object).await?;
    TextReader::new(source, object).await
}

/// Reads the whole object once: its hash and size, and whether its text is UTF-8 and
/// within `max_decompressed_bytes` (a gzip bomb is refused here, before any row is
/// written, having decompressed no more than the limit).
pub async fn scan(
    s3: &aws_sdk_s3::Client,
    object: &ObjectRef,
    limits: &OrderFileLimits,
) -> Result<ContentScan, ProcessError> {
    let mut reader = open(s3, object).await?;
    let mut utf8 = Utf8Check::default();
    let mut buffer = vec![0; BUFFER_BYTES];
    let mut text_bytes = 0_u64;
    loop {
        let read = reader
            .read(&mut buffer)
            .await
            .map_err(|err| reader.classify(err))?;
        if read == 0 {
            break;
        }
        let allowed = limits.max_decompressed_bytes.saturating_sub(text_bytes);
        if read as u64 > allowed {
            // The line where the limit falls: those before it, plus its own.
            let cut = usize::try_from(allowed).unwrap_or(read);
            let line = utf8.line + count_lines(&buffer[..cut]) + 1;
            let exceeded = LimitExceeded::new(Limit::Decompressed, limits, Some(line));
            return Err(ProcessError::permanent(format!("{exceeded} of {object}")));
        }
        text_bytes += read as u64;
        if let Err(line) = utf8.feed(&buffer[..read]) {
            return Err(not_utf8(object, line));
        }
    }
    if let Err(line) = utf8.finish() {
        return Err(not_utf8(object, line));
    }
    Ok(reader.into_scan())
}

fn not_utf8(object: &ObjectRef, line: u64) -> ProcessError {
    ProcessError::permanent(format!(
        "order file {object} is not UTF-8 text (first invalid byte on line {line}); \
         export it as CSV UTF-8"
    ))
}

async fn get_object(
    s3: &aws_sdk_s3::Client,
    object: &ObjectRef,
) -> Result<SourceReader, ProcessError> {
    let mut request = s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .set_version_id(object.version_id.clone());
    if object.version_id.is_none() {
        request = request.set_if_match(object.etag.as_ref().map(|tag| format!("\"{tag}\"")));
    }
    let response = request.send().await.map_err(|err| {
        let code = err.code().map(str::to_owned);
        match code.as_deref() {
            Some("NoSuchKey") | Some("NoSuchVersion") => {
                ProcessError::permanent(format!("order file {object} no longer exists in S3"))
            }
            Some("PreconditionFailed") => ProcessError::permanent(format!(
                "order file {object} was replaced by other content before it could be read; \
                 upload files under new keys or keep the bucket versioned"
            )),
            _ => ProcessError::aws(format!("reading order file {object} from S3"), err),
        }
    })?;
    Ok(SourceReader::new(response.body.into_async_read()))
}

/// The object's text: decompressed when it is gzip.
pub struct TextReader {
    decoded: Decoded,
    source_failed: Arc<AtomicBool>,
    description: String,
}

enum Decoded {
    Plain(BufReader<SourceReader>),
    Gzip(GzipDecoder<BufReader<SourceReader>>),
}

impl TextReader {
    async fn new(source: SourceReader, object: &ObjectRef) -> Result<Self, ProcessError> {
        let source_failed = source.failed.clone();
        let mut buffered = BufReader::with_capacity(BUFFER_BYTES, source);
        let mut reader = Self {
            decoded: Decoded::Plain(BufReader::new(SourceReader::empty())),
            source_failed,
            description: object.to_string(),
        };
        let starts_like_gzip = {
            let head = buffered
                .fill_buf()
                .await
                .map_err(|err| reader.classify(err))?;
            head.starts_with(&GZIP_MAGIC)
        };
        reader.decoded = if starts_like_gzip {
            let mut decoder = GzipDecoder::new(buffered);
            decoder.multiple_members(true);
            Decoded::Gzip(decoder)
        } else {
            Decoded::Plain(buffered)
        };
        Ok(reader)
    }

    /// Tells a read failure's cause, for use after the reader has been handed on.
    pub fn failure_classifier(&self) -> ReadFailureClassifier {
        ReadFailureClassifier {
            source_failed: self.source_failed.clone(),
            description: self.description.clone(),
        }
    }

    fn classify(&self, err: io::Error) -> ProcessError {
        self.failure_classifier().classify(err)
    }

    fn into_scan(self) -> ContentScan {
        let source = match self.decoded {
            Decoded::Plain(reader) => reader.into_inner(),
            Decoded::Gzip(decoder) => decoder.into_inner().into_inner(),
        };
        ContentScan {
            sha256_hex: hex::encode(source.hasher.finalize()),
            size_bytes: i64::try_from(source.bytes).unwrap_or(i64::MAX),
        }
    }
}

impl AsyncRead for TextReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.decoded {
            Decoded::Plain(reader) => Pin::new(reader).poll_read(cx, buf),
            Decoded::Gzip(decoder) => Pin::new(decoder).poll_read(cx, buf),
        }
    }
}

/// Tells why reading a [`TextReader`] failed.
#[derive(Debug, Clone)]
pub struct ReadFailureClassifier {
    source_failed: Arc<AtomicBool>,
    description: String,
}

impl ReadFailureClassifier {
    /// Retryable when S3 or the network failed; permanent when the bytes themselves are
    /// bad (corrupt gzip).
    pub fn classify(&self, err: io::Error) -> ProcessError {
        if self.source_failed.load(Ordering::Relaxed) {
            ProcessError::retryable(
                format!("reading order file {} from S3", self.description),
                err,
            )
        } else {
            ProcessError::permanent(format!(
                "order file {} is not readable: {err}",
                self.description
            ))
        }
    }
}

/// The raw object body: hashes and counts the bytes as they pass, and remembers whether
/// the body itself failed (S3, network), as opposed to what reads it.
struct SourceReader {
    body: Pin<Box<dyn AsyncRead + Send>>,
    hasher: Sha256,
    bytes: u64,
    failed: Arc<AtomicBool>,
}

impl SourceReader {
    fn new(body: impl AsyncRead + Send + 'static) -> Self {
        Self {
            body: Box::pin(body),
            hasher: Sha256::new(),
            bytes: 0,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    fn empty() -> Self {
        Self::new(tokio::io::empty())
    }
}

impl AsyncRead for SourceReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = self.body.as_mut().poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) => {
                let fresh = &buf.filled()[before..];
                self.hasher.update(fresh);
                self.bytes += fresh.len() as u64;
            }
            Poll::Ready(Err(_)) => self.failed.store(true, Ordering::Relaxed),
            Poll::Pending => {}
        }
        polled
    }
}

/// Checks text for UTF-8 a chunk at a time, carrying a character cut by a chunk
/// boundary over to the next chunk, and counting lines to say where a bad byte is.
#[derive(Debug, Default)]
struct Utf8Check {
    carry: Vec<u8>,
    line: u64,
}

impl Utf8Check {
    /// Checks the next chunk; on a bad byte, returns its line (from 1).
    fn feed(&mut self, chunk: &[u8]) -> Result<(), u64> {
        let joined;
        let bytes = if self.carry.is_empty() {
            chunk
        } else {
            joined = [self.carry.as_slice(), chunk].concat();
            &joined
        };
        let checked = match std::str::from_utf8(bytes) {
            Ok(_) => Ok(bytes.len()),
            // The chunk ends inside a character: keep its start for the next chunk.
            Err(err) if err.error_len().is_none() => Ok(err.valid_up_to()),
            Err(err) => Err(err.valid_up_to()),
        };
        match checked {
            Ok(valid) => {
                self.line += count_lines(&bytes[..valid]);
                self.carry = bytes[valid..].to_vec();
                Ok(())
            }
            Err(valid) => Err(self.line + count_lines(&bytes[..valid]) + 1),
        }
    }

    /// Ends the check: a character cut off by the end of the file is an error.
    fn finish(self) -> Result<(), u64> {
        if self.carry.is_empty() {
            Ok(())
        } else {
            Err(self.line + 1)
        }
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&byte| byte == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_split_across_chunks_is_accepted() {
        let text = "order_ref,product_name\nA-1,Kitenge café\n".as_bytes();
        let cut = text.iter().position(|&b| b == 0xC3).unwrap() + 1;
        let mut check = Utf8Check::default();
        assert_eq!(check.feed(&text[..cut]), Ok(()));
        assert_eq!(check.feed(&text[cut..]), Ok(()));
        assert_eq!(check.finish(), Ok(()));
    }

    #[test]
    fn a_latin1_byte_is_reported_with_its_line() {
        let mut check = Utf8Check::default();
        assert_eq!(check.feed(b"order_ref\nA-1\n"), Ok(()));
        assert_eq!(check.feed(b"A-2\nB\xe9b\xe9\n"), Err(4));
    }

    #[test]
    fn a_character_cut_off_at_the_end_of_the_file_is_an_error() {
        let mut check = Utf8Check::default();
        assert_eq!(check.feed(b"abc\n\xe2\x82"), Ok(()));
        assert_eq!(check.finish(), Err(2));
    }

    #[tokio::test]
    async fn the_source_hashes_exactly_the_bytes_it_passes_on() {
        let mut source = SourceReader::new(&b"order_ref\nA-1\n"[..]);
        let mut out = Vec::new();
        source.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"order_ref\nA-1\n");
        assert_eq!(source.bytes, 14);
        assert_eq!(
            hex::encode(source.hasher.finalize()),
            hex::encode(Sha256::digest(b"order_ref\nA-1\n"))
        );
    }
}
