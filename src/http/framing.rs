//! Request framing checked on the raw bytes of each HTTP/1 request head, before hyper parses it.
//!
//! Why here and not in a middleware: for a head with both `Content-Length` and
//! `Transfer-Encoding`, hyper drops `Content-Length` from the header map (in either order), so
//! the application never sees the ambiguity; and the framing errors hyper does catch itself
//! (differing `Content-Length`s, a `Transfer-Encoding` other than `chunked`) are answered with a
//! bare 400 instead of problem+json. A head that two parsers could frame differently is the
//! classic request-smuggling desync behind another proxy, so it is refused, never repaired.
//!
//! [`Guarded`] wraps the TCP stream. It holds back the bytes of each request head until the
//! head is complete, parses it with `httparse` (hyper's own parser, same defaults), and checks
//! the framing headers. A sound head is released to hyper unchanged and the body is followed
//! byte by byte (fixed length or chunked, the same grammar hyper's decoder accepts) to find
//! where the next head starts, so keep-alive and pipelining work as before. A refused head is
//! replaced by a minimal synthetic request, after which nothing the peer sends reaches hyper;
//! the connection's
//! [`ConnectionTag`] marks that request with its [`FramingError`], and
//! [`super::edge_refusal`] answers it with problem+json and `Connection: close`. Nothing of a
//! refused request reaches a handler. HTTP/2 (prior knowledge) has no such ambiguity and
//! passes through untouched after its preface.
//!
//! Cost: one `httparse` pass over each head (hyper makes another) and no copy of body bytes
//! beyond following chunk sizes.

use bytes::{Buf, BytesMut};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// What hyper sees instead of a refused head: routed to no handler, answered by `edge_refusal`.
const REFUSED_HEAD: &[u8] =
    b"GET / HTTP/1.1\r\nhost: hookgate\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
/// Header lines parsed on the stack; heads with more are parsed again with room for
/// `max_headers` (hyper's own limit).
const INLINE_HEADERS: usize = 64;

/// Why a request head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// `Content-Length` and `Transfer-Encoding` together.
    LengthAndTransferEncoding,
    /// `Transfer-Encoding` other than exactly one `chunked`.
    UnsupportedTransferEncoding,
    /// `Transfer-Encoding` on an HTTP/1.0 request.
    TransferEncodingInHttp10,
    /// Several `Content-Length`s with different values.
    ConflictingContentLength,
    /// A `Content-Length` that is not a plain decimal number.
    InvalidContentLength,
    /// The head is not valid HTTP/1.1 syntax.
    MalformedHead,
    /// The head grew past the connection's buffer limit without ending.
    HeadTooLarge,
}

impl FramingError {
    pub fn detail(self) -> &'static str {
        match self {
            FramingError::LengthAndTransferEncoding => {
                "the request has both Content-Length and Transfer-Encoding"
            }
            FramingError::UnsupportedTransferEncoding => {
                "Transfer-Encoding must be exactly one `chunked`"
            }
            FramingError::TransferEncodingInHttp10 => "HTTP/1.0 requests cannot be chunked",
            FramingError::ConflictingContentLength => {
                "the request has several different Content-Length values"
            }
            FramingError::InvalidContentLength => "Content-Length is not a decimal number",
            FramingError::MalformedHead => "the request line or headers are malformed",
            FramingError::HeadTooLarge => "the request head is too large",
        }
    }
}

/// Shared by a connection's [`Guarded`] stream and its service: which request, by position on
/// the connection, was refused.
#[derive(Debug, Default)]
pub struct ConnectionTag {
    refused: OnceLock<(u64, FramingError)>,
    served: AtomicU64,
}

impl ConnectionTag {
    /// Called by the service for each request in arrival order (HTTP/1 requests are answered in
    /// order): marks the refused one with its [`FramingError`] extension.
    pub fn tag<B>(&self, req: &mut http::Request<B>) {
        let position = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some((at, error)) = self.refused.get() {
            if *at == position {
                req.extensions_mut().insert(*error);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Collecting a request head.
    Head,
    /// In a body of this many remaining bytes.
    Fixed(u64),
    Chunked(Chunk),
    /// HTTP/2: nothing more to check.
    Passthrough,
    /// After a refused head: whatever the peer sends is read and dropped, so hyper answers the
    /// synthetic request (it closes a connection whose reading side ends early).
    Discard,
    /// The stream ends here for hyper (after a broken body: it sees an incomplete message).
    Closed,
}

/// Position in a chunked body, mirroring hyper's decoder states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size(u64),
    SizeLws(u64),
    Extension(u64),
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    EndCr,
    Trailer,
    TrailerLf,
    EndLf,
}

enum Step {
    Next(Chunk),
    Done,
    Broken,
}

impl Chunk {
    fn step(self, b: u8) -> Step {
        use Chunk::*;
        let hex = |size: u64, b: u8| -> Option<u64> {
            let digit = (b as char).to_digit(16)?;
            size.checked_mul(16)?.checked_add(u64::from(digit))
        };
        Step::Next(match (self, b) {
            (Size(size), b'\t' | b' ') => SizeLws(size),
            (Size(size), b';') | (SizeLws(size), b';') => Extension(size),
            (Size(size), b'\r') | (SizeLws(size), b'\r') | (Extension(size), b'\r') => SizeLf(size),
            (Size(size), b) => match hex(size, b) {
                Some(size) => Size(size),
                None => return Step::Broken,
            },
            (SizeLws(size), b'\t' | b' ') => SizeLws(size),
            (Extension(_), b'\n') => return Step::Broken,
            (Extension(size), _) => Extension(size),
            (SizeLf(0), b'\n') => EndCr,
            (SizeLf(size), b'\n') => Data(size),
            (Data(size), _) => Data(size), // skipped in bulk by `follow_body`
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => Size(0),
            (EndCr, b'\r') => EndLf,
            (EndCr, _) | (Trailer, _) if b != b'\r' => Trailer,
            (Trailer, b'\r') => TrailerLf,
            (TrailerLf, b'\n') => EndCr,
            (EndLf, b'\n') => return Step::Done,
            _ => return Step::Broken,
        })
    }
}

/// A TCP stream whose request heads are checked before hyper reads them (see the module docs).
pub struct Guarded<S> {
    inner: S,
    phase: Phase,
    /// Bytes of a request head not yet complete, held back from hyper.
    head: BytesMut,
    /// Checked bytes hyper has not read yet.
    ready: BytesMut,
    /// Request heads released so far on this connection.
    heads: u64,
    max_head: usize,
    max_headers: usize,
    tag: Arc<ConnectionTag>,
    /// How long a started head may take to complete (`server.header_read_timeout`). hyper's
    /// own deadline only runs on a partial head it holds, and partial heads stay here.
    header_timeout: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> Guarded<S> {
    /// `max_head` and `max_headers` are hyper's own limits on the connection; a head not
    /// complete `header_timeout` after its first byte closes the connection (slowloris).
    pub fn new(
        inner: S,
        tag: Arc<ConnectionTag>,
        max_head: usize,
        max_headers: usize,
        header_timeout: Duration,
    ) -> Self {
        Guarded {
            header_timeout,
            deadline: None,
            inner,
            phase: Phase::Head,
            head: BytesMut::new(),
            ready: BytesMut::new(),
            heads: 0,
            max_head,
            max_headers,
            tag,
        }
    }

    /// Follow the body over `bytes`; the count of bytes that belong to it. When it ends, the
    /// phase turns to `Head`; when it breaks (bad chunk syntax), to `Closed`, and the bytes
    /// from the break on are never released (hyper then sees an incomplete body).
    fn follow_body(&mut self, bytes: &[u8]) -> usize {
        let mut i = 0;
        while i < bytes.len() {
            match self.phase {
                Phase::Fixed(rem) => {
                    let take = rem.min((bytes.len() - i) as u64);
                    i += take as usize;
                    self.phase = match rem - take {
                        0 => Phase::Head,
                        left => Phase::Fixed(left),
                    };
                }
                Phase::Chunked(Chunk::Data(rem)) => {
                    let take = rem.min((bytes.len() - i) as u64);
                    i += take as usize;
                    self.phase = Phase::Chunked(match rem - take {
                        0 => Chunk::DataCr,
                        left => Chunk::Data(left),
                    });
                }
                Phase::Chunked(state) => match state.step(bytes[i]) {
                    Step::Next(next) => {
                        i += 1;
                        self.phase = Phase::Chunked(next);
                    }
                    Step::Done => {
                        i += 1;
                        self.phase = Phase::Head;
                    }
                    Step::Broken => {
                        self.phase = Phase::Closed;
                        return i;
                    }
                },
                Phase::Head | Phase::Passthrough | Phase::Discard | Phase::Closed => return i,
            }
        }
        i
    }

    /// A deadline runs while a head is partly here; a new head gets a new one.
    fn rearm(&mut self, heads_before: u64) {
        if self.phase != Phase::Head || self.head.is_empty() {
            self.deadline = None;
        } else if self.deadline.is_none() || self.heads != heads_before {
            self.deadline = Some(Box::pin(tokio::time::sleep(self.header_timeout)));
        }
    }

    /// Check the held-back head bytes: release every complete, sound head (and the body bytes
    /// after it), or replace a refused one by [`REFUSED_HEAD`].
    fn check_heads(&mut self) {
        while self.phase == Phase::Head && !self.head.is_empty() {
            if self.heads == 0 && H2_PREFACE.starts_with(&self.head[..self.head.len().min(24)]) {
                if self.head.len() < H2_PREFACE.len() {
                    return; // could still be the preface
                }
                self.phase = Phase::Passthrough;
                let held = self.head.split();
                self.ready.extend_from_slice(&held);
                return;
            }
            let verdict = match inspect(&self.head, self.max_headers) {
                Inspected::Partial if self.head.len() > self.max_head => {
                    Err(FramingError::HeadTooLarge)
                }
                Inspected::Partial => return,
                Inspected::Refused(e) => Err(e),
                Inspected::Sound { len, body } => Ok((len, body)),
            };
            self.heads += 1;
            match verdict {
                Ok((len, body)) => {
                    let head = self.head.split_to(len);
                    self.ready.extend_from_slice(&head);
                    self.phase = body;
                    let rest = self.head.split();
                    let used = self.follow_body(&rest);
                    self.ready.extend_from_slice(&rest[..used]);
                    if self.phase == Phase::Head {
                        self.head.extend_from_slice(&rest[used..]);
                    }
                }
                Err(e) => {
                    tracing::info!(reason = ?e, "request head refused: ambiguous or malformed framing");
                    let _ = self.tag.refused.set((self.heads, e));
                    self.head.clear();
                    self.ready.extend_from_slice(REFUSED_HEAD);
                    self.phase = Phase::Discard;
                }
            }
        }
    }
}

enum Inspected {
    Partial,
    Refused(FramingError),
    Sound { len: usize, body: Phase },
}

fn inspect(buf: &[u8], max_headers: usize) -> Inspected {
    let mut inline = [httparse::EMPTY_HEADER; INLINE_HEADERS];
    let mut req = httparse::Request::new(&mut inline);
    match req.parse(buf) {
        Err(httparse::Error::TooManyHeaders) => {
            let mut many = vec![httparse::EMPTY_HEADER; max_headers];
            let mut req = httparse::Request::new(&mut many);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(len)) => framing(&req, len),
                Ok(httparse::Status::Partial) => Inspected::Partial,
                // Over hyper's own line limit: hyper answers that itself (431).
                Err(httparse::Error::TooManyHeaders) => {
                    Inspected::Refused(FramingError::HeadTooLarge)
                }
                Err(_) => Inspected::Refused(FramingError::MalformedHead),
            }
        }
        Err(_) => Inspected::Refused(FramingError::MalformedHead),
        Ok(httparse::Status::Partial) => Inspected::Partial,
        Ok(httparse::Status::Complete(len)) => framing(&req, len),
    }
}

/// The body framing a complete head declares, or why it is refused.
fn framing(req: &httparse::Request<'_, '_>, len: usize) -> Inspected {
    let mut length: Option<u64> = None;
    let mut transfer_encodings = 0usize;
    let mut chunked = false;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(h.value)
                .unwrap_or("")
                .trim_matches([' ', '\t']);
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Inspected::Refused(FramingError::InvalidContentLength);
            }
            let Ok(value) = text.parse::<u64>() else {
                return Inspected::Refused(FramingError::InvalidContentLength);
            };
            if length.is_some_and(|prev| prev != value) {
                return Inspected::Refused(FramingError::ConflictingContentLength);
            }
            length = Some(value);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encodings += 1;
            chunked = h.value.trim_ascii().eq_ignore_ascii_case(b"chunked");
        }
    }
    if transfer_encodings > 0 {
        if req.version == Some(0) {
            return Inspected::Refused(FramingError::TransferEncodingInHttp10);
        }
        if length.is_some() {
            return Inspected::Refused(FramingError::LengthAndTransferEncoding);
        }
        if transfer_encodings > 1 || !chunked {
            return Inspected::Refused(FramingError::UnsupportedTransferEncoding);
        }
        return Inspected::Sound {
            len,
            body: Phase::Chunked(Chunk::Size(0)),
        };
    }
    let body = match length {
        Some(n) if n > 0 => Phase::Fixed(n),
        _ => Phase::Head,
    };
    Inspected::Sound { len, body }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready[..n]);
                this.ready.advance(n);
                return Poll::Ready(Ok(()));
            }
            match this.phase {
                Phase::Closed => return Poll::Ready(Ok(())),
                Phase::Discard => {
                    // Uninitialised: zeroing 8 KiB on every read cost more than the read's copy.
                    let mut scratch = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
                    let mut read = ReadBuf::uninit(&mut scratch);
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
                    if read.filled().is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                }
                Phase::Passthrough => return Pin::new(&mut this.inner).poll_read(cx, buf),
                Phase::Head => {
                    // Uninitialised: zeroing 8 KiB on every read cost more than the read's copy.
                    let mut scratch = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
                    let mut read = ReadBuf::uninit(&mut scratch);
                    if Pin::new(&mut this.inner)
                        .poll_read(cx, &mut read)?
                        .is_pending()
                    {
                        let expired = this
                            .deadline
                            .as_mut()
                            .is_some_and(|d| d.as_mut().poll(cx).is_ready());
                        if !expired {
                            return Poll::Pending;
                        }
                        tracing::debug!("request head not complete in time; closing");
                        this.head.clear();
                        this.deadline = None;
                        this.phase = Phase::Closed;
                        continue;
                    }
                    if read.filled().is_empty() {
                        // End of stream inside a head: hyper reports the incomplete message.
                        let held = this.head.split();
                        this.ready.extend_from_slice(&held);
                        this.phase = Phase::Closed;
                        continue;
                    }
                    this.head.extend_from_slice(read.filled());
                    let before = this.heads;
                    this.check_heads();
                    this.rearm(before);
                }
                Phase::Fixed(_) | Phase::Chunked(_) => {
                    // Body bytes go straight into hyper's buffer; only what follows the body
                    // is taken back as the start of the next head.
                    let before = buf.filled().len();
                    ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
                    let fresh = &buf.filled()[before..];
                    if fresh.is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                    let used = this.follow_body(fresh);
                    if used < fresh.len() {
                        if this.phase == Phase::Head {
                            this.head.extend_from_slice(&fresh[used..]);
                        }
                        buf.set_filled(before + used);
                        let heads = this.heads;
                        this.check_heads();
                        this.rearm(heads);
                    }
                    if buf.filled().len() > before {
                        return Poll::Ready(Ok(()));
                    }
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// What hyper would read from `wire`, fed in pieces of `step` bytes.
    async fn through(wire: &[u8], step: usize) -> (Vec<u8>, Arc<ConnectionTag>) {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let tag = Arc::new(ConnectionTag::default());
        let mut guarded = Guarded::new(server, tag.clone(), 1 << 20, 4096, Duration::from_secs(30));
        let wire = wire.to_vec();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for piece in wire.chunks(step.max(1)) {
                client.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
            client.shutdown().await.unwrap();
            client
        });
        let mut out = Vec::new();
        guarded.read_to_end(&mut out).await.unwrap();
        drop(writer.await.unwrap());
        (out, tag)
    }

    const CHUNKED: &[u8] = b"POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nx-trailer: 1\r\n\r\n";
    const FIXED: &[u8] = b"POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nworld";

    #[tokio::test]
    async fn sound_requests_pass_unchanged_in_any_segmentation() {
        let wire = [
            CHUNKED,
            FIXED,
            CHUNKED,
            b"GET /c HTTP/1.1\r\nhost: x\r\n\r\n",
        ]
        .concat();
        for step in [1, 2, 7, 64, 100_000] {
            let (out, tag) = through(&wire, step).await;
            assert_eq!(out, wire, "step {step}");
            assert!(tag.refused.get().is_none());
        }
    }

    #[tokio::test]
    async fn an_ambiguous_head_after_sound_ones_is_replaced_and_ends_the_stream() {
        let smuggled = b"POST /d HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n";
        let wire = [FIXED, CHUNKED, smuggled].concat();
        for step in [1, 3, 100_000] {
            let (out, tag) = through(&wire, step).await;
            assert_eq!(out, [FIXED, CHUNKED, REFUSED_HEAD].concat(), "step {step}");
            assert_eq!(
                tag.refused.get(),
                Some(&(3, FramingError::LengthAndTransferEncoding))
            );
        }
    }

    #[tokio::test]
    async fn each_framing_fault_has_its_reason() {
        let cases: &[(&[u8], FramingError)] = &[
            (b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n", FramingError::LengthAndTransferEncoding),
            (b"POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n", FramingError::UnsupportedTransferEncoding),
            (b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n", FramingError::UnsupportedTransferEncoding),
            (b"POST / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", FramingError::UnsupportedTransferEncoding),
            (b"POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n", FramingError::TransferEncodingInHttp10),
            (b"POST / HTTP/1.1\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n", FramingError::ConflictingContentLength),
            (b"POST / HTTP/1.1\r\ncontent-length: +3\r\n\r\n", FramingError::InvalidContentLength),
            (b"POST / HTTP/1.1\r\ncontent-length: 3, 3\r\n\r\n", FramingError::InvalidContentLength),
            (b"POST / HTTP/1.1\r\nbad header: 1\r\n\r\n", FramingError::MalformedHead),
        ];
        for (wire, reason) in cases {
            let (out, tag) = through(wire, 100_000).await;
            assert_eq!(out, REFUSED_HEAD, "{}", String::from_utf8_lossy(wire));
            assert_eq!(tag.refused.get(), Some(&(1, *reason)));
        }
        // Repeated equal lengths are one length (RFC 9110 §8.6).
        let same = b"POST / HTTP/1.1\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok";
        assert_eq!(through(same, 100_000).await.0, same);
    }

    #[tokio::test]
    async fn a_broken_chunk_stops_the_stream_at_the_break() {
        let wire = b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n";
        let (out, _) = through(wire, 100_000).await;
        let at = wire.windows(2).position(|w| w == b"XX").unwrap();
        assert_eq!(out, wire[..at]);
    }

    #[tokio::test]
    async fn http2_prior_knowledge_passes_through() {
        let wire = [H2_PREFACE, b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"].concat();
        assert_eq!(through(&wire, 5).await.0, wire);
    }
}
