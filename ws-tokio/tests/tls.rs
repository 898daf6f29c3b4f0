//! wss:// end to end with a self-signed certificate generated at test time.
#![cfg(feature = "tls")]

mod common;

use common::{bounded, listen};
use ws_tokio::tls::rustls::RootCertStore;
use ws_tokio::{CloseCode, Config, Error, Message};

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A certificate for 127.0.0.1 and localhost, its PEM files, and a client config trusting it.
fn certificate(
    dir: &TempDir,
) -> (std::path::PathBuf, std::path::PathBuf, ws_tokio::ClientTlsConfig) {
    let key =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert_path = dir.0.join("cert.pem");
    let key_path = dir.0.join("key.pem");
    std::fs::write(&cert_path, key.cert.pem()).unwrap();
    std::fs::write(&key_path, key.signing_key.serialize_pem()).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(key.cert.der().clone()).unwrap();
    (cert_path, key_path, ws_tokio::tls::client_config_with_roots(roots).unwrap())
}

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("ws-tokio-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

#[tokio::test]
async fn wss_end_to_end() {
    let dir = temp_dir("wss");
    let (cert, key, client_config) = certificate(&dir);
    let acceptor = ws_tokio::tls::server_config_from_pem_files(&cert, &key).unwrap();
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = ws_tokio::tls::accept_with(tcp, &acceptor, Config::default(), |r| {
            Ok(ws_tokio::Accept::new().protocol(r.protocols()[0].clone()))
        })
        .await
        .unwrap();
        while let Some(m) = ws.recv().await {
            let m = m.unwrap();
            if m.is_data() {
                ws.send(m).await.unwrap();
            }
        }
        ws.close_info().unwrap().clean
    });

    let (mut ws, response) = bounded(ws_tokio::connect_with(
        &format!("wss://127.0.0.1:{}/secure", addr.port()),
        |r| r.protocol("p1"),
        Config::default(),
        Some(client_config),
    ))
    .await
    .unwrap();
    assert!(ws.get_ref().is_tls());
    assert_eq!(response.protocol.as_deref(), Some("p1"));
    let big = Message::binary(vec![0x5a; 3 << 20]);
    for m in [Message::text("over tls"), big, Message::text("")] {
        ws.send(m.clone()).await.unwrap();
        assert!(bounded(ws.recv()).await.unwrap().unwrap() == m);
    }
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert!(matches!(bounded(ws.recv()).await, Some(Ok(Message::Close(_)))));
    assert!(bounded(ws.recv()).await.is_none());
    assert!(ws.close_info().unwrap().clean);
    assert!(bounded(server).await.unwrap());
}

#[tokio::test]
async fn untrusted_certificate_is_a_tls_error() {
    let dir = temp_dir("untrusted");
    let (cert, key, _) = certificate(&dir);
    let acceptor = ws_tokio::tls::server_config_from_pem_files(&cert, &key).unwrap();
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = ws_tokio::tls::accept(tcp, &acceptor).await;
    });
    // The default configuration trusts only the public roots.
    let err =
        bounded(ws_tokio::connect(&format!("wss://127.0.0.1:{}/", addr.port()))).await.unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
}

#[test]
fn missing_pem_files_are_io_errors() {
    let err =
        ws_tokio::tls::server_config_from_pem_files("/nonexistent/c.pem", "/nonexistent/k.pem")
            .unwrap_err();
    assert!(matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::NotFound), "{err:?}");
}
