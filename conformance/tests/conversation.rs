//! The interop conversation between our own adapters, in process, on loopback: every client
//! adapter against every server adapter over ws://, and each server adapter over wss://. This
//! checks the harness's `Session` implementations and the scripts without any third-party peer
//! (the `interop` driver does that).

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use conformance::script::{self, OFFERED_PROTOCOLS, SERVER_PROTOCOLS, ServerState};
use conformance::session::{Adapter, ServerTls};

/// Serves `connections` connections with `adapter`, then stops. Returns the URL's port and the
/// thread, which fails if any connection failed.
fn server(
    adapter: Adapter,
    tls: Option<ServerTls>,
    connections: usize,
) -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let state = Arc::new(ServerState::default());
        let mut workers = Vec::new();
        for tcp in listener.incoming().take(connections) {
            let (tcp, state, tls) = (tcp.unwrap(), state.clone(), tls.clone());
            workers.push(thread::spawn(move || {
                let mut ws = adapter.accept(tcp, tls.as_ref(), &SERVER_PROTOCOLS).unwrap();
                script::serve(&mut *ws, &state).unwrap();
            }));
        }
        for worker in workers {
            worker.join().unwrap();
        }
    });
    (port, handle)
}

fn converse(client: Adapter, url: &str, ca: Option<&std::path::Path>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut connect = || client.connect(url, &OFFERED_PROTOCOLS, ca);
    let result = script::run_client(&mut connect, &mut |line| lines.push(line.to_owned()));
    if let Err(e) = result {
        panic!("{client} client at {url}: {e}\nafter: {lines:#?}");
    }
    lines
}

#[test]
fn every_client_adapter_against_every_server_adapter() {
    for server_adapter in Adapter::ALL {
        // Each client run opens two connections.
        let (port, server) = server(server_adapter, None, 2 * Adapter::ALL.len());
        for client in Adapter::ALL {
            let lines = converse(client, &format!("ws://127.0.0.1:{port}/"), None);
            assert_eq!(lines.len(), 13, "{client} -> {server_adapter}: {lines:#?}");
            assert!(lines[1].contains("client yes"), "{lines:#?}");
        }
        server.join().unwrap();
    }
}

#[test]
fn wss_with_a_self_signed_certificate() {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("conformance-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key): (PathBuf, PathBuf) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let tls = ServerTls::from_pem_files(&cert, &key).unwrap();

    for (i, server_adapter) in Adapter::ALL.into_iter().enumerate() {
        let client = Adapter::ALL[(i + 1) % Adapter::ALL.len()];
        let (port, server) = server(server_adapter, Some(tls.clone()), 2);
        let lines = converse(client, &format!("wss://127.0.0.1:{port}/"), Some(&cert));
        assert_eq!(lines.len(), 13, "{client} -> {server_adapter} (wss): {lines:#?}");
        server.join().unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
