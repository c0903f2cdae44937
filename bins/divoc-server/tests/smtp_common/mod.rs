//! The SMTP server of the email tests: mailin-embedded on a loopback port,
//! keeping each received message, and a parser of the messages it received.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use mail_parser::{MessageParser, MimeHeaders};
use mailin_embedded::{Handler, Response, SslConfig, response};

/// Collects each received message as raw bytes.
#[derive(Clone)]
struct Inbox {
    current: Vec<u8>,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Handler for Inbox {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.current.clear();
        response::OK
    }

    fn data(&mut self, buffer: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buffer);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.received
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.current));
        response::OK
    }
}

/// Starts an SMTP server on a loopback port; with `tls`, it offers STARTTLS
/// with that certificate and key.
pub fn start_smtp(tls: Option<(&Path, &Path)>) -> (u16, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let inbox = Inbox {
        current: Vec::new(),
        received: Arc::clone(&received),
    };
    let mut server = mailin_embedded::Server::new(inbox);
    server.with_tcp_listener(listener).with_num_threads(2);
    if let Some((cert, key)) = tls {
        server
            .with_ssl(SslConfig::SelfSigned {
                cert_path: cert.display().to_string(),
                key_path: key.display().to_string(),
            })
            .unwrap();
    }
    std::thread::spawn(move || {
        if let Err(error) = server.serve() {
            eprintln!("SMTP test server stopped: {error}");
        }
    });
    (port, received)
}

/// `email.smtp_url` of a server on `port`.
pub fn smtp_env(port: u16) -> String {
    format!("smtp://127.0.0.1:{port}")
}

/// Returns the subject, recipient, PDF attachment and body text of a message.
pub fn attachment_of(raw: &[u8]) -> (String, String, Vec<u8>, String) {
    let message = MessageParser::default().parse(raw).unwrap();
    let subject = message.subject().unwrap().to_owned();
    let to = message
        .to()
        .unwrap()
        .first()
        .unwrap()
        .address()
        .unwrap()
        .to_owned();
    let attachment = message.attachments().next().unwrap();
    assert_eq!(attachment.content_type().unwrap().ctype(), "application");
    assert_eq!(attachment.content_type().unwrap().subtype(), Some("pdf"));
    let body = message.body_text(0).unwrap().into_owned();
    (subject, to, attachment.contents().to_vec(), body)
}
