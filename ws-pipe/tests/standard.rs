//! Standard mode on FIFOs and on stdin/stdout, echo mode, the frame size limit and the command
//! line.

mod common;

use common::*;
use ws_tokio::Message;

#[tokio::test]
async fn fifos_are_created_and_each_read_is_one_message() {
    use std::os::unix::fs::FileTypeExt;
    let dir = TempDir::new("standard-fifo");
    let [pin, pout] = fifo_args(&dir);
    let pipe = WsPipe::start(&[&pin, &pout]).await;
    for name in ["in", "out"] {
        let meta = std::fs::metadata(dir.path(name)).unwrap();
        assert!(meta.file_type().is_fifo(), "{name} created as a FIFO");
    }
    let mut a = pipe.connect("/").await;
    let mut b = pipe.connect("/").await;
    let mut producer = producer(&dir.path("in")).await;
    synced(&mut producer, &mut [&mut a, &mut b]).await;
    write(&mut producer, b"line one\n").await;
    assert_eq!(next_data(&mut a).await, Message::text("line one\n"));
    assert_eq!(next_data(&mut b).await, Message::text("line one\n"));
    // Not UTF-8: sent as binary, reported on stderr.
    write(&mut producer, b"\xff\xfe raw\n").await;
    assert_eq!(next_data(&mut a).await, Message::binary(&b"\xff\xfe raw\n"[..]));
    pipe.wait_stderr("not UTF-8 was sent as binary").await;
    // More than PIPE_BUF at once: several messages of at most 4096 bytes, nothing lost.
    let big = "x".repeat(10_000);
    write(&mut producer, big.as_bytes()).await;
    let mut got = 0;
    // (Usually 4096 + 4096 + 1808; a read may take less when it overtakes the write.)
    while got < big.len() {
        let Message::Text(t) = next_data(&mut a).await else { panic!("text expected") };
        assert!(t.len() <= 4096, "{} bytes in one message", t.len());
        got += t.len();
    }
    assert_eq!(got, big.len());

    // The writer leaves; the next one is served (the FIFO is opened again).
    drop(producer);
    let mut producer = common::producer(&dir.path("in")).await;
    write(&mut producer, b"second writer\n").await;
    assert_eq!(next_data(&mut a).await, Message::text("second writer\n"));
    // b, which read nothing since the first line, has every message in order.
    let mut seen = Vec::new();
    while seen.last() != Some(&Message::text("second writer\n")) {
        seen.push(next_data(&mut b).await);
    }
    assert_eq!(seen[0], Message::binary(&b"\xff\xfe raw\n"[..]));
    let middle: usize = seen[1..seen.len() - 1].iter().map(data_len).sum();
    assert_eq!(middle, 10_000, "the 10 000 bytes in pieces, then the second writer's line");

    // Client messages go raw to the output FIFO.
    let mut out = consumer(&dir.path("out"));
    // (One client at a time: two connections' messages have no order between them.)
    a.send_text("from a\n").await.unwrap();
    assert_eq!(read_exact(&mut out, 7).await, b"from a\n");
    b.send_binary(&b"\x00bin"[..]).await.unwrap();
    assert_eq!(read_exact(&mut out, 4).await, b"\x00bin");
}

#[tokio::test]
async fn stdin_and_stdout() {
    let mut pipe = WsPipe::start(&["--std"]).await;
    let mut a = pipe.connect("/").await;
    synced(pipe.stdin.as_mut().unwrap(), &mut [&mut a]).await;
    to_stdin(&mut pipe, b"from stdin\n").await;
    assert_eq!(next_data(&mut a).await, Message::text("from stdin\n"));
    a.send_text("to stdout\n").await.unwrap();
    a.send_binary(&b"\x01\x02"[..]).await.unwrap();
    let stdout = pipe.stdout.as_mut().unwrap();
    assert_eq!(read_exact(stdout, 12).await, b"to stdout\n\x01\x02");
    // stdin ends: the server keeps serving.
    drop(pipe.stdin.take());
    pipe.wait_stderr("end of input").await;
    a.send_text("still here").await.unwrap();
    let stdout = pipe.stdout.as_mut().unwrap();
    assert_eq!(read_exact(stdout, 10).await, b"still here");
}

#[tokio::test]
async fn echo_mode_uses_no_pipes() {
    let dir = TempDir::new("echo");
    let [pin, pout] = fifo_args(&dir);
    let pipe = WsPipe::start(&["--echo-mode", &pin, &pout]).await;
    let mut a = pipe.connect("/echo").await;
    a.send_text("ping me").await.unwrap();
    assert_eq!(next_data(&mut a).await, Message::text("ping me"));
    a.send_binary(&b"\x00\x01"[..]).await.unwrap();
    assert_eq!(next_data(&mut a).await, Message::binary(&b"\x00\x01"[..]));
    assert!(!dir.path("in").exists() && !dir.path("out").exists(), "no FIFO in echo mode");
}

#[tokio::test]
async fn max_frame_size_for_clients_and_pipe_messages() {
    let dir = TempDir::new("max-frame");
    let [pin, pout] = fifo_args(&dir);
    let pipe = WsPipe::start(&["--max-frame-size=100", &pin, &pout]).await;
    let mut a = pipe.connect("/").await;
    let mut b = pipe.connect("/").await;
    let mut producer = producer(&dir.path("in")).await;
    synced(&mut producer, &mut [&mut a, &mut b]).await;
    // A pipe read larger than the limit is split into messages of at most 100 bytes.
    write(&mut producer, &[b'p'; 250]).await;
    let mut sizes = Vec::new();
    while sizes.iter().sum::<usize>() < 250 {
        sizes.push(data_len(&next_data(&mut a).await));
    }
    assert!(sizes.iter().all(|&n| n <= 100), "{sizes:?}");
    // A client frame over the limit: Close 1009.
    b.send_text("y".repeat(101)).await.unwrap();
    let code = bounded(async {
        loop {
            match b.recv().await {
                Some(Ok(_)) => {}
                _ => return b.close_info().map(|c| c.code()),
            }
        }
    })
    .await;
    assert_eq!(code.map(u16::from), Some(1009));
    // 100 bytes is still fine.
    a.send_text("z".repeat(100)).await.unwrap();
    let mut out = consumer(&dir.path("out"));
    assert_eq!(read_exact(&mut out, 100).await, vec![b'z'; 100]);
}

async fn run_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out =
        bounded(tokio::process::Command::new(env!("CARGO_BIN_EXE_ws-pipe")).args(args).output())
            .await
            .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

#[tokio::test]
async fn command_line_help_version_and_errors() {
    let (code, stdout, _) = run_cli(&["--help"]).await;
    assert_eq!(code, Some(0));
    for option in ["--pipein", "--strict", "--echo-mode", "--max-frame-size", "--channel"] {
        assert!(stdout.contains(option), "--help mentions {option}");
    }
    let (code, stdout, _) = run_cli(&["-V"]).await;
    assert_eq!((code, stdout.starts_with("ws-pipe ")), (Some(0), true));
    let (code, _, stderr) = run_cli(&["--frobnicate"]).await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unknown option '--frobnicate'"), "{stderr}");
    let (code, _, stderr) = run_cli(&["--port", "99999"]).await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not a valid number"), "{stderr}");
    // A pipe path that is a regular file: a clear error, not a hang.
    let dir = TempDir::new("cli-not-fifo");
    std::fs::write(dir.path("file"), "x").unwrap();
    let pipein = format!("--pipein={}", dir.path("file").display());
    let (code, _, stderr) = run_cli(&["--addr", "127.0.0.1", "-p", "0", &pipein]).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("is not a FIFO"), "{stderr}");
}
