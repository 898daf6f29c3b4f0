//! wss:// end to end with a self-signed certificate generated at test time.
#![cfg(feature = "tls")]

mod common;

use std::sync::Arc;
use std::thread;

use common::{TestCert, listen};
use ws_blocking::{CloseCode, Config, Error, Message, accept, connect_with, tls};

#[test]
fn wss_round_trip_close_and_split() {
    let cert = TestCert::generate();
    let server_config = tls::server_config_from_pem_files(&cert.cert, &cert.key).unwrap();
    let client_config = tls::client_config_from_pem_file(&cert.cert).unwrap();
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = tls::accept(tcp, &server_config).unwrap();
        assert_eq!(ws.get_ref().conn.alpn_protocol(), Some(&b"http/1.1"[..]));
        // Whole-connection echo first, then the same connection split.
        for _ in 0..3 {
            let m = ws.recv().unwrap().unwrap();
            ws.send(m).unwrap();
        }
        let (mut rx, mut tx) = ws.split().unwrap();
        let echo = thread::spawn(move || {
            let mut n = 0;
            while let Some(m) = rx.recv() {
                if let Message::Text(t) = m.unwrap() {
                    assert_eq!(t.as_str(), format!("split {n}"));
                    n += 1;
                }
            }
            (rx, n)
        });
        for i in 0..2_000 {
            tx.send_text(format!("from server {i}")).unwrap();
        }
        tx.flush().unwrap();
        let (rx, n) = echo.join().unwrap();
        assert_eq!(n, 2_000);
        assert!(rx.close_info().unwrap().clean);
    });
    let url = format!("wss://localhost:{}/", addr.port());
    let (mut ws, _) = connect_with(&url, |r| r, Config::default(), Some(client_config)).unwrap();
    assert!(ws.get_ref().is_tls());
    let big = vec![0xabu8; 3 << 20];
    for m in [Message::text("secure"), Message::binary(big.clone()), Message::text("")] {
        ws.send(m.clone()).unwrap();
        assert_eq!(ws.recv().unwrap().unwrap(), m);
    }
    let (mut rx, mut tx) = ws.split().unwrap();
    let reader = thread::spawn(move || {
        let mut n = 0;
        while n < 2_000 {
            match rx.recv().unwrap().unwrap() {
                Message::Text(t) => {
                    assert_eq!(t.as_str(), format!("from server {n}"));
                    n += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        rx
    });
    for i in 0..2_000 {
        tx.send_text(format!("split {i}")).unwrap();
    }
    tx.flush().unwrap();
    let rx = reader.join().unwrap();
    let mut ws = rx.reunite(tx).unwrap();
    ws.close(CloseCode::NORMAL, "tls done").unwrap();
    while let Some(m) = ws.recv() {
        m.unwrap();
    }
    assert!(ws.close_info().unwrap().clean);
    server.join().unwrap();
}

#[test]
fn untrusted_certificates_fail_with_a_tls_error() {
    let cert = TestCert::generate();
    let server_config = tls::server_config_from_pem_files(&cert.cert, &cert.key).unwrap();
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        accept(tls::server_stream(tcp, server_config).unwrap()).map(|_| ())
    });
    // The default configuration trusts the webpki roots, not our self-signed certificate.
    let url = format!("wss://localhost:{}/", addr.port());
    let err = connect_with(&url, |r| r, Config::default(), None).unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(server.join().unwrap().is_err());
}

#[test]
fn pem_helpers_report_missing_and_malformed_files() {
    let cert = TestCert::generate();
    let missing = cert.cert.with_file_name("missing.pem");
    assert!(matches!(tls::server_config_from_pem_files(&missing, &cert.key), Err(Error::Io(_))));
    // A key file where the certificate should be: no certificate in it.
    assert!(matches!(tls::server_config_from_pem_files(&cert.key, &cert.key), Err(Error::Io(_))));
    assert!(matches!(tls::client_config_from_pem_file(&cert.key), Err(Error::Io(_))));
    // The default configuration is built once and shared.
    let (a, b) = (tls::default_client_config(), tls::default_client_config());
    assert!(Arc::ptr_eq(&a, &b));
}
