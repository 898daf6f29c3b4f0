//! Strict mode, byte for byte: this test plays the producer and the consumer on the FIFOs.

mod common;

use common::*;
use ws_tokio::Message;

fn strict_args(dir: &TempDir, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--strict".to_string(),
        format!("--pipein={}", dir.path("in").display()),
        format!("--pipeout={}", dir.path("out").display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

async fn start(dir: &TempDir, extra: &[&str]) -> WsPipe {
    let args = strict_args(dir, extra);
    WsPipe::start(&args.iter().map(String::as_str).collect::<Vec<_>>()).await
}

#[tokio::test]
async fn open_events_messages_per_client_and_broadcast_and_close_events() {
    let dir = TempDir::new("strict-conversation");
    let pipe = start(&dir, &[]).await;
    let mut out = consumer(&dir.path("out"));
    let mut producer = producer(&dir.path("in")).await;

    let mut a = pipe.connect("/").await;
    let (id_a, kind, ip) = read_record(&mut out).await;
    assert_eq!(kind, 0x10);
    let mut expected_ip = b"127.0.0.1".to_vec();
    expected_ip.resize(46, 0);
    assert_eq!(ip, expected_ip, "the IP, NUL-padded to 46 bytes");
    let mut b = pipe.connect("/any/path").await;
    let (id_b, kind, _) = read_record(&mut out).await;
    assert_eq!(kind, 0x10);
    assert!(id_a != 0 && id_b != 0 && id_a != id_b, "ids {id_a} {id_b}");

    // Client to pipe: header and raw payload, text and binary.
    a.send_text("hello").await.unwrap();
    assert_eq!(read_record(&mut out).await, (id_a, 1, b"hello".to_vec()));
    b.send_binary(&b"\x00\xff"[..]).await.unwrap();
    assert_eq!(read_record(&mut out).await, (id_b, 2, vec![0, 255]));

    // Pipe to one client, then to all (id 0), in one write.
    let mut bytes = record(id_a, 1, b"only a");
    bytes.extend(record(0, 2, b"\x01\x02all"));
    write(&mut producer, &bytes).await;
    assert_eq!(next_data(&mut a).await, Message::text("only a"));
    assert_eq!(next_data(&mut a).await, Message::binary(&b"\x01\x02all"[..]));
    assert_eq!(
        next_data(&mut b).await,
        Message::binary(&b"\x01\x02all"[..]),
        "b got only the broadcast"
    );

    // A record split over several writes is one message.
    let split = record(id_b, 1, "déjà vu".as_bytes());
    write(&mut producer, &split[..5]).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    write(&mut producer, &split[5..14]).await;
    write(&mut producer, &split[14..]).await;
    assert_eq!(next_data(&mut b).await, Message::text("déjà vu"));

    // A client that leaves: close event, type 8, length 0.
    a.close(1000u16, "").await.unwrap();
    assert_eq!(read_record(&mut out).await, (id_a, 8, Vec::new()));
    drop(b);
    assert_eq!(read_record(&mut out).await, (id_b, 8, Vec::new()));
    // Raw bytes: exactly 12 per close event, nothing else queued.
    let mut c = pipe.connect("/").await;
    let open = read_exact(&mut out, 12 + 46).await;
    let id_c = u32::from_be_bytes(open[..4].try_into().unwrap());
    assert_eq!(&open[4..12], b"\0\0\0\x10\0\0\0\x2e");
    c.close(1000u16, "").await.unwrap();
    let close = read_exact(&mut out, 12).await;
    assert_eq!(close, record(id_c, 8, b""));
}

#[tokio::test]
async fn open_event_variant() {
    let dir = TempDir::new("strict-open-event");
    let pipe = start(&dir, &["--open-event=0x01"]).await;
    let mut out = consumer(&dir.path("out"));
    let _a = pipe.connect("/").await;
    let (id, kind, ip) = read_record(&mut out).await;
    assert!(id != 0);
    assert_eq!((kind, ip.len(), &ip[..9]), (1, 46, &b"127.0.0.1"[..]));
}

#[tokio::test]
async fn invalid_headers_are_reported_and_the_input_resynchronised() {
    let dir = TempDir::new("strict-resync");
    let pipe = start(&dir, &["--max-frame-size=64"]).await;
    let mut out = consumer(&dir.path("out"));
    let mut a = pipe.connect("/").await;
    opened(&mut out, 1).await;
    let mut producer = producer(&dir.path("in")).await;

    // A bad type, with garbage after it: reported, dropped, the pipe reopened.
    let mut bad = record(0, 7, b"xx");
    bad.extend_from_slice(b"garbage that is not a header");
    write(&mut producer, &bad).await;
    let line = pipe.wait_stderr("invalid header").await;
    assert!(line.contains("type 0x7"), "{line}");
    assert!(line.contains("resynchronised"), "{line}");
    // The same writer goes on with good records.
    write(&mut producer, &record(0, 1, b"after bad type")).await;
    assert_eq!(next_data(&mut a).await, Message::text("after bad type"));

    // Too long for --max-frame-size: reported the same way; a new writer starts afresh.
    write(&mut producer, &record(0, 1, &[b'x'; 65])).await;
    pipe.wait_stderr("over --max-frame-size 64").await;
    drop(producer);
    let mut producer = common::producer(&dir.path("in")).await;
    write(&mut producer, &record(0, 1, b"after too long")).await;
    assert_eq!(next_data(&mut a).await, Message::text("after too long"));

    // A text record that is not UTF-8 is dropped with a report; the stream goes on.
    write(&mut producer, &record(0, 1, b"\xff")).await;
    write(&mut producer, &record(0, 1, b"fine")).await;
    assert_eq!(next_data(&mut a).await, Message::text("fine"));
    // (stderr is read by another task: wait for the line rather than race it.)
    pipe.wait_stderr("is not UTF-8").await;
}

#[tokio::test]
async fn a_writer_that_leaves_is_followed_by_the_next() {
    let dir = TempDir::new("strict-writers");
    let pipe = start(&dir, &[]).await;
    let mut out = consumer(&dir.path("out"));
    let mut a = pipe.connect("/").await;
    opened(&mut out, 1).await;
    for round in 0..3 {
        let mut producer = producer(&dir.path("in")).await;
        let text = format!("writer {round}");
        write(&mut producer, &record(0, 1, text.as_bytes())).await;
        // The last writer leaves in the middle of a record: that record is dropped.
        if round == 2 {
            write(&mut producer, &record(0, 1, b"cut short")[..14]).await;
        }
        drop(producer);
        assert_eq!(next_data(&mut a).await, Message::text(text));
    }
    pipe.wait_stderr("in the middle of a record").await;
    let mut producer = producer(&dir.path("in")).await;
    write(&mut producer, &record(0, 1, b"whole")).await;
    assert_eq!(next_data(&mut a).await, Message::text("whole"));
}
