//! Canned HTTP and websocket responders for the unit tests: what the client sends, and how it
//! reads answers, without a server.

// Test support only (compiled with `cfg(test)`): a failed set-up is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message, handshake::server};

/// What the responder received: the request head (request line and headers) and the body.
#[derive(Debug)]
pub struct Received {
    pub head: String,
    pub body: String,
}

impl Received {
    /// The request line, e.g. `GET /api/events?history=true HTTP/1.1`.
    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }
}

/// Reads one request (head, then a `content-length` body) from `stream`.
fn read_request(stream: &mut TcpStream) -> Received {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    Received {
        head,
        body: String::from_utf8(body).unwrap(),
    }
}

/// Answers one connection with `status`, extra `headers` and `body`, and hands back the
/// request it received.
pub fn respond_once(status: &str, headers: &str, body: &str) -> (String, mpsc::Receiver<String>) {
    let (url, received) = respond_with(
        format!(
            "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok(r) = received.recv() {
            let _ = tx.send(r.head);
        }
    });
    (url, rx)
}

/// Answers one connection with the raw `response` bytes and hands back the request.
pub fn respond_with(response: Vec<u8>) -> (String, mpsc::Receiver<Received>) {
    respond_in_parts(vec![response], mpsc::channel().1)
}

/// Answers one connection with `parts` of a raw response: the first at once, each further one
/// after a message arrives on `go` (so a test can check that the client streams).
pub fn respond_in_parts(
    parts: Vec<Vec<u8>>,
    go: mpsc::Receiver<()>,
) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let received = read_request(&mut stream);
        let _ = tx.send(received);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 && go.recv().is_err() {
                return;
            }
            stream.write_all(part).unwrap();
            stream.flush().unwrap();
        }
    });
    (url, rx)
}

/// One chunk of a chunked body.
pub fn chunk(data: &str) -> Vec<u8> {
    format!("{:x}\r\n{data}\r\n", data.len()).into_bytes()
}

/// A websocket server for one connection: accepts the upgrade, hands back the request line and
/// headers, and sends `frames`. With `read_client`, it then collects what the client sends until
/// the client closes; otherwise it closes with 1000 and `reason` itself. The client's frames are
/// handed back at the end.
pub fn websocket_once(
    frames: Vec<Message>,
    read_client: bool,
    reason: &'static str,
) -> (String, mpsc::Receiver<String>, mpsc::Receiver<Vec<Message>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (head_tx, head_rx) = mpsc::channel();
    let (got_tx, got_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        #[expect(
            clippy::result_large_err,
            reason = "the signature tungstenite's handshake callback requires"
        )]
        let callback = |request: &server::Request, response: server::Response| {
            let mut head = format!("{} {}\r\n", request.method(), request.uri());
            for (k, v) in request.headers() {
                head.push_str(&format!("{}: {}\r\n", k, v.to_str().unwrap_or("?")));
            }
            let _ = head_tx.send(head);
            Ok(response)
        };
        let mut socket = tungstenite::accept_hdr(stream, callback).unwrap();
        for frame in frames {
            socket.send(frame).unwrap();
        }
        let mut got = Vec::new();
        if !read_client {
            let _ = socket.close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: reason.into(),
            }));
        }
        // Until the closing handshake is done (either side started it).
        while let Ok(message) = socket.read() {
            if !matches!(message, Message::Close(_)) {
                got.push(message);
            }
        }
        let _ = got_tx.send(got);
    });
    (url, head_rx, got_rx)
}

/// A single-threaded runtime for driving the async client from a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
