//! Bounds the message of every gRPC status a daemon sends, so the client always gets the error.
//!
//! A status travels in HTTP/2 headers (`grpc-message`, percent-encoded), and clients refuse a
//! header list over 16 KiB (hyper's default, so tonic's): a longer message, such as a template
//! error quoting a runaway `tpl`, would reach the user as "h2 protocol error" instead of the
//! error. [`BoundedStatus`] wraps a served service and shortens any `grpc-message` whose encoding
//! is over [`MAX_ENCODED_MESSAGE_BYTES`], in the response's headers (a unary error) and in its
//! trailers (an error ending a stream): [`bound_message`] keeps the start and the end of the
//! message and says in the middle how much was cut. Messages under the bound pass untouched.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::codegen::http::{HeaderMap, HeaderValue, Request, Response};
use tonic::codegen::{Bytes, Service};
use tonic::server::NamedService;

/// The most a status message may take once percent-encoded in `grpc-message`: well under the
/// 16 KiB header list clients accept, with room for the other headers.
pub const MAX_ENCODED_MESSAGE_BYTES: usize = 12 * 1024;

type HttpRequest = Request<tonic::body::Body>;
type HttpResponse = Response<tonic::body::Body>;

/// What one byte of a message takes in `grpc-message`: tonic percent-encodes control bytes, the
/// space, `"#<>`?{}` and every byte of a non-ASCII character (three bytes each); `%` is counted
/// as encoded too, to stay on the safe side.
fn encoded_len(byte: u8) -> usize {
    if byte.is_ascii_graphic() && !b"\"#<>`?{}%".contains(&byte) {
        1
    } else {
        3
    }
}

/// What `text` takes in `grpc-message`.
fn encoded_size(text: &str) -> usize {
    text.bytes().map(encoded_len).sum()
}

/// `message` as it may travel in a status: unchanged when its encoding fits in
/// [`MAX_ENCODED_MESSAGE_BYTES`]; otherwise its start and its end (whole characters, about as
/// much of each) around a note saying how many bytes were cut from the middle.
pub fn bound_message(message: &str) -> Cow<'_, str> {
    if encoded_size(message) <= MAX_ENCODED_MESSAGE_BYTES {
        return Cow::Borrowed(message);
    }
    // The note is ASCII with spaces: at most 3 bytes each once encoded; 100 leaves room for it.
    let half = (MAX_ENCODED_MESSAGE_BYTES - 3 * 100) / 2;
    let mut head = 0;
    let mut cost = 0;
    for (at, c) in message.char_indices() {
        let next = cost + encoded_size(c.encode_utf8(&mut [0; 4]));
        if next > half {
            break;
        }
        cost = next;
        head = at + c.len_utf8();
    }
    let mut tail = message.len();
    let mut cost = 0;
    for (at, c) in message.char_indices().rev() {
        let next = cost + encoded_size(c.encode_utf8(&mut [0; 4]));
        if next > half || at < head {
            break;
        }
        cost = next;
        tail = at;
    }
    let cut = tail - head;
    Cow::Owned(format!(
        "{}\n[... {cut} of the message's {} bytes cut here: too long for a gRPC status ...]\n{}",
        &message[..head],
        message.len(),
        &message[tail..],
    ))
}

/// Shortens the `grpc-message` in `headers` (response headers or trailers) when it is too long.
fn bound_headers(headers: &mut HeaderMap) {
    let Some(value) = headers.get(tonic::Status::GRPC_MESSAGE) else {
        return;
    };
    if value.len() <= MAX_ENCODED_MESSAGE_BYTES {
        return;
    }
    // Decode the message alone (tonic's decoder insists on well-formed details otherwise).
    let mut alone = HeaderMap::new();
    alone.insert(tonic::Status::GRPC_STATUS, HeaderValue::from_static("2"));
    alone.insert(tonic::Status::GRPC_MESSAGE, value.clone());
    let Some(status) = tonic::Status::from_header_map(&alone) else {
        return;
    };
    let bounded = tonic::Status::new(status.code(), bound_message(status.message()));
    let mut encoded = HeaderMap::new();
    match bounded
        .add_header(&mut encoded)
        .ok()
        .and_then(|()| encoded.remove(tonic::Status::GRPC_MESSAGE))
    {
        Some(message) => {
            headers.insert(tonic::Status::GRPC_MESSAGE, message);
        }
        None => {
            tracing::warn!("dropping a status message that cannot be encoded");
            headers.remove(tonic::Status::GRPC_MESSAGE);
        }
    }
}

/// A served service whose statuses carry bounded messages (see the module docs).
#[derive(Clone)]
pub struct BoundedStatus<S> {
    inner: S,
}

impl<S> BoundedStatus<S> {
    /// `inner`, its statuses bounded.
    pub fn new(inner: S) -> BoundedStatus<S> {
        BoundedStatus { inner }
    }
}

impl<S: NamedService> NamedService for BoundedStatus<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<HttpRequest> for BoundedStatus<S>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        let response = self.inner.call(request);
        Box::pin(async move {
            let (mut parts, body) = response.await?.into_parts();
            bound_headers(&mut parts.headers);
            Ok(Response::from_parts(
                parts,
                tonic::body::Body::new(BoundedTrailers { inner: body }),
            ))
        })
    }
}

/// A response body whose trailers are bounded as the headers are.
struct BoundedTrailers {
    inner: tonic::body::Body,
}

impl http_body::Body for BoundedTrailers {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = polled {
            let mut frame = frame;
            if let Some(trailers) = frame.trailers_mut() {
                bound_headers(trailers);
            }
            return Poll::Ready(Some(Ok(frame)));
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_messages_pass_untouched() {
        let message =
            "template: web/templates/cm.yaml:1:3: executing \"x\": error calling fail: no";
        assert!(matches!(bound_message(message), Cow::Borrowed(m) if m == message));
        let edge = "a".repeat(MAX_ENCODED_MESSAGE_BYTES);
        assert_eq!(bound_message(&edge), edge);
    }

    #[test]
    fn long_messages_keep_their_start_and_end_and_say_what_was_cut() {
        for filler in ["x", " ", "é", "\n", "日本", "{}"] {
            let message = format!("START {} END", filler.repeat(40_000));
            let bounded = bound_message(&message);
            assert!(
                encoded_size(&bounded) <= MAX_ENCODED_MESSAGE_BYTES,
                "{filler:?}: {}",
                encoded_size(&bounded)
            );
            assert!(bounded.starts_with("START "), "{filler:?}");
            assert!(bounded.ends_with(" END"), "{filler:?}");
            let (head, rest) = bounded.split_once("\n[... ").expect("a note");
            let (note, tail) = rest.split_once(" ...]\n").expect("the note's end");
            let cut: usize = note
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .expect("how much was cut");
            assert_eq!(head.len() + cut + tail.len(), message.len(), "{filler:?}");
            assert!(
                message.starts_with(head) && message.ends_with(tail),
                "{filler:?}"
            );
            assert!(
                note.ends_with(&format!(
                    "of the message's {} bytes cut here: too long for a gRPC status",
                    message.len()
                )),
                "{filler:?}: {note}"
            );
        }
    }

    #[test]
    fn a_unary_error_is_bounded_in_its_headers() {
        let status = tonic::Status::invalid_argument(format!("START {} END", "x ".repeat(20_000)));
        let mut headers = HeaderMap::new();
        status.add_header(&mut headers).expect("encodes");
        assert!(headers[tonic::Status::GRPC_MESSAGE].len() > 16 * 1024);
        bound_headers(&mut headers);
        assert!(headers[tonic::Status::GRPC_MESSAGE].len() <= MAX_ENCODED_MESSAGE_BYTES);
        let received = tonic::Status::from_header_map(&headers).expect("a status");
        assert_eq!(received.code(), tonic::Code::InvalidArgument);
        assert!(received.message().starts_with("START x x"));
        assert!(received.message().ends_with("x x  END"));
        assert!(received.message().contains("bytes cut here"));
    }

    /// A body ending with the given trailers.
    struct Trailers(Option<HeaderMap>);

    impl http_body::Body for Trailers {
        type Data = Bytes;
        type Error = tonic::Status;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
            Poll::Ready(self.0.take().map(|t| Ok(http_body::Frame::trailers(t))))
        }
    }

    #[test]
    fn an_error_ending_a_stream_is_bounded_in_its_trailers() {
        use http_body::Body as _;
        let status = tonic::Status::internal(format!("START {} END", "é".repeat(20_000)));
        let mut trailers = HeaderMap::new();
        status.add_header(&mut trailers).expect("encodes");
        let mut body = BoundedTrailers {
            inner: tonic::body::Body::new(Trailers(Some(trailers))),
        };
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) else {
            panic!("the trailers frame");
        };
        let trailers = frame.into_trailers().expect("trailers");
        assert!(trailers[tonic::Status::GRPC_MESSAGE].len() <= MAX_ENCODED_MESSAGE_BYTES);
        let received = tonic::Status::from_header_map(&trailers).expect("a status");
        assert_eq!(received.code(), tonic::Code::Internal);
        assert!(received.message().starts_with("START éé"));
        assert!(received.message().ends_with("éé END"));
    }
}
