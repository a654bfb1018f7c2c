//! How large an order file, one of its lines and one of its fields may be.
//!
//! A gzip file of a megabyte can expand to a gigabyte, and a line or a quoted field can
//! be as long as the file: read whole, either would take the importer past its memory.
//! So the text is read through [`BoundedText`], which never hands the CSV reader more
//! than the decompressed limit, nor more than one line's limit past the start of the
//! record being read; the CSV reader's record buffer, and every row kept in a batch,
//! therefore stays within the line limit whatever the file holds. Each record is then
//! measured exactly, line and fields, before it is parsed. Past a limit the file is
//! refused as a whole, naming the limit, its variable and the line where it was hit.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// The limits of one import. The defaults suit production; tests shrink them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFileLimits {
    /// `ORDER_FILE_MAX_DECOMPRESSED_BYTES`: the file's text (after gzip). The default,
    /// 256 MiB, is about two million rows of the benchmark's file: far more than one
    /// export of a seller's other channels, and still what an import finishes within a
    /// few invocations, resuming after its last batch. A gzip bomb stops there after a
    /// second or two of decompressing, in flat memory.
    pub max_decompressed_bytes: u64,
    /// `ORDER_FILE_MAX_LINE_BYTES`: one record, its line end included and the line
    /// breaks inside quoted fields counting as part of it. The default, 64 KiB, is some 300 times a typical row and
    /// leaves room for extra columns the importer ignores; it also bounds what a batch
    /// keeps of each row.
    pub max_line_bytes: u64,
    /// `ORDER_FILE_MAX_FIELD_BYTES`: one field, unquoted. The default, 8 KiB, is far
    /// beyond any product name, SKU or address; a longer field is a broken export (an
    /// unbalanced quote swallowing the rest of the file) or not an order file.
    pub max_field_bytes: u64,
}

impl Default for OrderFileLimits {
    fn default() -> Self {
        Self {
            max_decompressed_bytes: 256 * 1024 * 1024,
            max_line_bytes: 64 * 1024,
            max_field_bytes: 8 * 1024,
        }
    }
}

/// Which limit a file went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`OrderFileLimits::max_decompressed_bytes`].
    Decompressed,
    /// [`OrderFileLimits::max_line_bytes`].
    Line,
    /// [`OrderFileLimits::max_field_bytes`].
    Field,
}

impl Limit {
    /// The environment variable that sets it.
    pub fn variable(self) -> &'static str {
        match self {
            Limit::Decompressed => "ORDER_FILE_MAX_DECOMPRESSED_BYTES",
            Limit::Line => "ORDER_FILE_MAX_LINE_BYTES",
            Limit::Field => "ORDER_FILE_MAX_FIELD_BYTES",
        }
    }

    /// Its value in `limits`.
    pub fn of(self, limits: &OrderFileLimits) -> u64 {
        match self {
            Limit::Decompressed => limits.max_decompressed_bytes,
            Limit::Line => limits.max_line_bytes,
            Limit::Field => limits.max_field_bytes,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Limit::Decompressed => "the file's decompressed text is longer than",
            Limit::Line => "a line is longer than",
            Limit::Field => "a field is longer than",
        }
    }
}

/// A file past one of its limits: the reason it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    /// The limit.
    pub limit: Limit,
    /// Its value, in bytes.
    pub bytes: u64,
    /// The line (from 1, the header being line 1) where it was hit, when known.
    pub line: Option<u64>,
    /// The column whose field is too long, for [`Limit::Field`].
    pub column: Option<String>,
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "order file refused: {} {} bytes ({})",
            self.limit.what(),
            self.bytes,
            self.limit.variable()
        )?;
        match (self.line, &self.column) {
            (Some(line), Some(column)) => write!(f, " at line {line}, column {column}"),
            (Some(line), None) => write!(f, " at line {line}"),
            (None, Some(column)) => write!(f, " in column {column}"),
            (None, None) => Ok(()),
        }
    }
}

impl LimitExceeded {
    /// The limit `limit` of `limits`, hit at `line`.
    pub fn new(limit: Limit, limits: &OrderFileLimits, line: Option<u64>) -> Self {
        Self {
            limit,
            bytes: limit.of(limits),
            line,
            column: None,
        }
    }

    /// The same, naming the column.
    pub fn in_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// The limit behind a read error, when a [`BoundedText`] refused to read on.
    pub fn from_io(err: &io::Error) -> Option<&Limit> {
        err.get_ref()?.downcast_ref::<Limit>()
    }
}

impl std::error::Error for Limit {}

impl std::error::Error for LimitExceeded {}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.variable())
    }
}

/// Text read with a budget: at most `max_decompressed_bytes` in all, and at most
/// `max_line_bytes` past the start of the record being read, which
/// the reader of records moves on with [`BoundedText::record_starts_at`]. The CSV
/// reader asks for more only once it has used all it was given, so a record that is
/// still open at the budget's end is longer than the line limit: the read fails with a
/// [`Limit`] as its cause instead.
pub struct BoundedText<R> {
    inner: R,
    limits: OrderFileLimits,
    delivered: u64,
    record_end: u64,
}

impl<R> BoundedText<R> {
    /// `inner`, read within `limits`, the first record starting at byte 0.
    pub fn new(inner: R, limits: OrderFileLimits) -> Self {
        Self {
            inner,
            limits,
            delivered: 0,
            record_end: limits.max_line_bytes,
        }
    }

    /// The next record starts at byte `offset` of the text: it may read on to a line's
    /// limit past it.
    pub fn record_starts_at(&mut self, offset: u64) {
        self.record_end = offset.saturating_add(self.limits.max_line_bytes);
    }

    /// Bytes handed on so far.
    pub fn bytes_read(&self) -> u64 {
        self.delivered
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BoundedText<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let end = this.record_end.min(this.limits.max_decompressed_bytes);
        let allowed = end.saturating_sub(this.delivered);
        if allowed == 0 {
            // At the budget's end: only the end of the text may follow.
            let mut probe = [0_u8; 1];
            let mut probe = ReadBuf::new(&mut probe);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut probe))?;
            if probe.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
            let limit = if this.delivered >= this.limits.max_decompressed_bytes {
                Limit::Decompressed
            } else {
                Limit::Line
            };
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, limit)));
        }
        let room = usize::try_from(allowed)
            .unwrap_or(usize::MAX)
            .min(buf.remaining());
        let mut limited = ReadBuf::new(buf.initialize_unfilled_to(room));
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut limited))?;
        let read = limited.filled().len();
        buf.advance(read);
        this.delivered += read as u64;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn limits(decompressed: u64, line: u64) -> OrderFileLimits {
        OrderFileLimits {
            max_decompressed_bytes: decompressed,
            max_line_bytes: line,
            max_field_bytes: line,
        }
    }

    #[tokio::test]
    async fn text_within_its_limits_reads_whole() {
        let mut text = BoundedText::new(&b"abc\ndef\n"[..], limits(8, 8));
        let mut out = Vec::new();
        text.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"abc\ndef\n");
    }

    #[tokio::test]
    async fn text_past_the_decompressed_limit_fails_naming_it() {
        let mut text = BoundedText::new(&b"abc\ndef\n"[..], limits(7, 100));
        let mut out = Vec::new();
        let err = text.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(LimitExceeded::from_io(&err), Some(&Limit::Decompressed));
        assert_eq!(out.len(), 7, "never more than the limit is handed on");
    }

    #[tokio::test]
    async fn a_record_may_not_read_past_a_line_from_its_start() {
        let mut text = BoundedText::new(&[b'0'; 100][..], limits(1000, 10));
        let mut out = Vec::new();
        let err = text.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(LimitExceeded::from_io(&err), Some(&Limit::Line));
        assert_eq!(out.len(), 10);

        let mut text = BoundedText::new(&[b'0'; 18][..], limits(1000, 10));
        let mut first = [0_u8; 10];
        text.read_exact(&mut first).await.unwrap();
        text.record_starts_at(8);
        let mut rest = Vec::new();
        text.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest.len(), 8);
    }

    #[test]
    fn the_reason_names_the_limit_its_variable_and_where() {
        let limits = OrderFileLimits::default();
        let err = LimitExceeded::new(Limit::Field, &limits, Some(7)).in_column("product_name");
        assert_eq!(
            err.to_string(),
            "order file refused: a field is longer than 8192 bytes (ORDER_FILE_MAX_FIELD_BYTES) \
             at line 7, column product_name"
        );
    }
}
