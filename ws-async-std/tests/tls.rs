//! wss:// end to end with a certificate generated at test time, and TLS failures.

#![cfg(feature = "tls")]

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::{Rt, echo, pattern};
use ws_async_std::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use ws_async_std::tls::{self, TlsConnector, rustls};
use ws_async_std::{
    ClientRequest, ClientTlsConfig, CloseCode, Config, Error, Message, client, connect,
    connect_with,
};

on_both_runtimes!(wss_end_to_end, untrusted_certificate_is_a_tls_error);

struct TestCert {
    cert_pem: String,
    key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

fn self_signed() -> TestCert {
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names).unwrap();
    TestCert {
        cert_pem: generated.cert.pem(),
        key_pem: generated.signing_key.serialize_pem(),
        cert_der: generated.cert.der().clone(),
        key_der: generated.signing_key.serialize_der(),
    }
}

fn runtime_name<R>() -> &'static str {
    std::any::type_name::<R>().rsplit(':').next().unwrap_or("rt")
}

/// A client configuration trusting only `cert`.
fn trusting(cert: &TestCert) -> ClientTlsConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert_der.clone()).unwrap();
    tls::client_config_with_roots(roots).unwrap()
}

fn acceptor_from_der(cert: &TestCert) -> Arc<rustls::ServerConfig> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_der.clone()));
    tls::server_config(vec![cert.cert_der.clone()], key).unwrap()
}

/// Writes the PEM files to a fresh temporary directory (exercising the file helper).
fn write_pem_files(cert: &TestCert, tag: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("ws-async-std-tls-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.key_pem).unwrap();
    (cert_path, key_path)
}

async fn wss_end_to_end<R: Rt>() {
    let cert = self_signed();
    let (cert_path, key_path) = write_pem_files(&cert, &format!("ok-{}", runtime_name::<R>()));
    let acceptor = tls::server_config_from_pem_files(&cert_path, &key_path).unwrap();
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut echoed = 0;
        for _ in 0..2 {
            let tcp = R::accept(&listener).await;
            echoed += echo(tls::accept(tcp, &acceptor).await.unwrap()).await;
        }
        echoed
    });
    let trust = trusting(&cert);

    // 1. connect_with on a wss:// URL.
    let url = format!("wss://{addr}/secure");
    let (mut ws, response) =
        connect_with(&url, |r| r, Config::default(), Some(trust.clone())).await.unwrap();
    assert_eq!(response.status, 101);
    assert!(matches!(ws.get_ref(), ws_async_std::MaybeTlsStream::Tls(_)));
    ws.send_text("secret").await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("secret"));
    let big = pattern(1 << 20, 4);
    ws.send_binary(big.clone()).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(big));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
    assert!(ws.recv().await.is_none());
    assert!(ws.close_info().unwrap().clean);

    // 2. The runtime's own TCP stream, TLS on top, then `client`.
    let tcp = R::connect(addr).await;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls_stream = TlsConnector::from(trust).connect(name, tcp).await.unwrap();
    let (mut ws, _) =
        client(tls_stream, ClientRequest::new("localhost", "/"), Config::default()).await.unwrap();
    ws.send_text("again").await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("again"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.recv().await.is_some() {}

    assert_eq!(server.await, 3);
    let _ = std::fs::remove_dir_all(cert_path.parent().unwrap());
}

async fn untrusted_certificate_is_a_tls_error<R: Rt>() {
    let cert = self_signed();
    let acceptor = acceptor_from_der(&cert);
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let tcp = R::accept(&listener).await;
        tls::accept(tcp, &acceptor).await.map(|_| ()).unwrap_err()
    });
    // The default configuration trusts the webpki roots only.
    let err = connect(&format!("wss://{addr}/")).await.map(|_| ()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Tls(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer))
        ),
        "{err:?}"
    );
    // The server sees the client's alert.
    let server_err = server.await;
    assert!(matches!(server_err, Error::Tls(_) | Error::Io(_)), "{server_err:?}");

    // Bad PEM input is refused with a clear error, not a panic.
    let (cert_path, key_path) = write_pem_files(&cert, &format!("bad-{}", runtime_name::<R>()));
    std::fs::write(&cert_path, "not pem").unwrap();
    let bad = tls::server_config_from_pem_files(&cert_path, &key_path).unwrap_err();
    assert!(
        matches!(bad, Error::Io(ref e) if e.kind() == std::io::ErrorKind::InvalidData),
        "{bad:?}"
    );
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.cert_pem).unwrap();
    assert!(
        tls::server_config_from_pem_files(&cert_path, &key_path).is_err(),
        "a certificate is no key"
    );
    let missing =
        tls::server_config_from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem");
    assert!(matches!(missing, Err(Error::Io(ref e)) if e.kind() == std::io::ErrorKind::NotFound));
    let _ = std::fs::remove_dir_all(cert_path.parent().unwrap());
}
