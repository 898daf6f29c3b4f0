//! What the raw peer saw on the wire: short descriptions, and the verdict on them.

use std::time::Duration;

use ws_kit::raw::{Frame, ReadEnd, op};

use super::checks::{Expect, Prepared};

/// A frame in a few words: `Close 1002`, `Text "hello"`, `Pong 4 bytes`.
pub(crate) fn frame(f: &Frame) -> String {
    let flags = match (f.fin, f.rsv) {
        (true, 0) => String::new(),
        (fin, rsv) => format!(" [fin={} rsv={rsv:03b}]", u8::from(fin)),
    };
    let body = match f.opcode {
        op::CLOSE => match f.close_code() {
            Some(code) if f.close_reason().is_empty() => format!("Close {code}"),
            Some(code) => format!("Close {code} {:?}", String::from_utf8_lossy(f.close_reason())),
            None if f.payload.is_empty() => "Close (no code)".to_owned(),
            None => format!("Close (1-byte body {:02x?})", f.payload),
        },
        op::TEXT if f.payload.len() <= 40 => {
            format!("Text {:?}", String::from_utf8_lossy(&f.payload))
        }
        op::TEXT => format!("Text {} bytes", f.payload.len()),
        op::BINARY => format!("Binary {} bytes", f.payload.len()),
        op::CONT => format!("Continuation {} bytes", f.payload.len()),
        op::PING => format!("Ping {} bytes", f.payload.len()),
        op::PONG => format!("Pong {} bytes", f.payload.len()),
        other => format!("opcode {other:#x}, {} bytes", f.payload.len()),
    };
    body + &flags
}

/// How the stream ended, in a few words.
pub(crate) fn end(end: &ReadEnd, within: Duration) -> String {
    match end {
        ReadEnd::Eof { pending: 0 } => "FIN".to_owned(),
        ReadEnd::Eof { pending } => format!("FIN after {pending} bytes of an incomplete frame"),
        ReadEnd::Reset => "RST (connection reset)".to_owned(),
        ReadEnd::Timeout { pending: 0 } => format!("nothing more for {within:?} (no FIN)"),
        ReadEnd::Timeout { pending } => {
            format!("{pending} bytes of an incomplete frame, then nothing for {within:?}")
        }
        ReadEnd::Error(e) => format!("socket error: {e}"),
    }
}

/// Everything seen: `Text "hello", Close 1002, then FIN`.
pub(crate) fn seen(frames: &[Frame], ending: &ReadEnd, within: Duration) -> String {
    let ending = end(ending, within);
    match frames {
        [] => format!("no frame, then {ending}"),
        frames => {
            let frames: Vec<String> = frames.iter().map(frame).collect();
            format!("{}, then {ending}", frames.join(", "))
        }
    }
}

/// Judges what the agent sent: `Ok(what was seen)` when it is exactly what `prepared` expects,
/// `Err(what was expected and what was seen)` otherwise.
pub(crate) fn judge(
    prepared: &Prepared,
    frames: &[Frame],
    ending: &ReadEnd,
    within: Duration,
) -> Result<String, String> {
    let seen = seen(frames, ending, within);
    let fin = matches!(ending, ReadEnd::Eof { pending: 0 });
    let (ok, expected) = match &prepared.expect {
        Expect::Close { first, code } => {
            let mut expected: Vec<String> = Vec::new();
            let mut ok = fin;
            let close = match (first, frames) {
                (Some(text), [data, close]) => {
                    ok &= data.opcode == op::TEXT
                        && data.fin
                        && data.rsv == 0
                        && data.payload == text.as_bytes();
                    Some(close)
                }
                (None, [close]) => Some(close),
                _ => None,
            };
            if let Some(text) = first {
                expected.push(format!("Text {text:?}"));
            }
            ok &= close.is_some_and(|c| c.opcode == op::CLOSE && c.close_code() == Some(*code));
            expected.push(format!("Close {code} (any reason)"));
            (ok, format!("{}, then FIN", expected.join(", ")))
        }
        Expect::Oracle { echoes } => {
            let control: Vec<Frame> = frames.iter().filter(|f| f.is_control()).cloned().collect();
            let (data, odd) = reassemble(frames.iter().filter(|f| !f.is_control()));
            let ok =
                fin && odd.is_empty() && control == prepared.verdict.control && data == *echoes;
            let control: Vec<String> = prepared.verdict.control.iter().map(frame).collect();
            let control = match control.len() {
                0 => "no control frame".to_owned(),
                _ => format!("the control frames [{}]", control.join(", ")),
            };
            let echoes = match echoes.len() {
                0 => "no data".to_owned(),
                1 => "the echo of the one data message delivered".to_owned(),
                n => format!("the echoes of the {n} data messages delivered"),
            };
            (ok, format!("{control} and {echoes} (the in-memory core's answer), then FIN"))
        }
    };
    if ok { Ok(seen) } else { Err(format!("expected {expected}; saw {seen}")) }
}

/// Joins data frames into messages (opcode, payload); anything that is not a well-formed run of
/// uncompressed data frames is returned as a description in the second list.
fn reassemble<'a>(frames: impl Iterator<Item = &'a Frame>) -> (Vec<(u8, Vec<u8>)>, Vec<String>) {
    let (mut messages, mut odd) = (Vec::new(), Vec::new());
    let mut open: Option<(u8, Vec<u8>)> = None;
    for f in frames {
        if f.rsv != 0 {
            odd.push(frame(f));
            continue;
        }
        match (f.opcode, open.take()) {
            (op::TEXT | op::BINARY, None) => open = Some((f.opcode, f.payload.clone())),
            (op::CONT, Some((opcode, mut payload))) => {
                payload.extend_from_slice(&f.payload);
                open = Some((opcode, payload));
            }
            (_, previous) => {
                odd.push(frame(f));
                open = previous;
                continue;
            }
        }
        if f.fin {
            messages.extend(open.take());
        }
    }
    if let Some((opcode, payload)) = open {
        odd.push(format!("an unfinished message ({opcode:#x}, {} bytes)", payload.len()));
    }
    (messages, odd)
}

#[cfg(test)]
mod tests {
    use ws_kit::oracle::Verdict;

    use super::*;

    fn close(code: u16) -> Frame {
        Frame { fin: true, rsv: 0, opcode: op::CLOSE, payload: code.to_be_bytes().to_vec() }
    }

    fn text(fin: bool, opcode: u8, s: &str) -> Frame {
        Frame { fin, rsv: 0, opcode, payload: s.as_bytes().to_vec() }
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            seen(&[close(1002)], &ReadEnd::Eof { pending: 0 }, Duration::ZERO),
            "Close 1002, then FIN"
        );
        assert_eq!(
            seen(&[], &ReadEnd::Reset, Duration::ZERO),
            "no frame, then RST (connection reset)"
        );
        assert_eq!(frame(&text(false, op::TEXT, "a")), "Text \"a\" [fin=0 rsv=000]");
    }

    fn expecting(expect: Expect, control: Vec<Frame>) -> Prepared {
        let verdict = Verdict { error: None, code: None, control, messages: Vec::new() };
        Prepared {
            bytes: Vec::new(),
            half_close: false,
            expect,
            verdict,
            client_step: ("info", None),
        }
    }

    const FIN: ReadEnd = ReadEnd::Eof { pending: 0 };

    #[test]
    fn a_close_then_fin_and_nothing_else() {
        let within = Duration::from_secs(2);
        let p = expecting(Expect::Close { first: None, code: 1002 }, Vec::new());
        assert_eq!(judge(&p, &[close(1002)], &FIN, within), Ok("Close 1002, then FIN".to_owned()));
        let fails =
            |frames: &[Frame], ending: &ReadEnd| judge(&p, frames, ending, within).unwrap_err();
        // A bare FIN, an RST, the wrong code, no FIN, something before the Close.
        assert!(fails(&[], &FIN).ends_with("saw no frame, then FIN"));
        assert!(
            fails(&[close(1002)], &ReadEnd::Reset)
                .ends_with("saw Close 1002, then RST (connection reset)")
        );
        assert!(fails(&[close(1007)], &FIN).contains("saw Close 1007"));
        assert!(
            fails(&[close(1002)], &ReadEnd::Timeout { pending: 0 })
                .ends_with("nothing more for 2s (no FIN)")
        );
        assert!(
            fails(&[text(true, op::TEXT, "x"), close(1002)], &FIN)
                .contains("expected Close 1002 (any reason), then FIN")
        );

        let p = expecting(Expect::Close { first: Some("hi"), code: 1002 }, Vec::new());
        assert!(judge(&p, &[text(true, op::TEXT, "hi"), close(1002)], &FIN, within).is_ok());
        // The echo after the Close, or missing, or different.
        assert!(judge(&p, &[close(1002), text(true, op::TEXT, "hi")], &FIN, within).is_err());
        assert!(judge(&p, &[close(1002)], &FIN, within).is_err());
        assert!(judge(&p, &[text(true, op::TEXT, "ho"), close(1002)], &FIN, within).is_err());
    }

    #[test]
    fn exactly_the_oracles_control_frames_and_echoes() {
        let within = Duration::from_secs(2);
        let pong = Frame { fin: true, rsv: 0, opcode: op::PONG, payload: b"p".to_vec() };
        let echoes = vec![(op::TEXT, b"a".to_vec())];
        let p = expecting(Expect::Oracle { echoes }, vec![pong.clone(), close(1002)]);
        let data = text(true, op::TEXT, "a");
        let all = [data.clone(), pong.clone(), close(1002)];
        assert!(judge(&p, &all, &FIN, within).is_ok());
        assert!(judge(&p, &all, &ReadEnd::Reset, within).is_err());
        assert!(judge(&p, &[data.clone(), close(1002)], &FIN, within).is_err());
        assert!(judge(&p, &[pong.clone(), close(1002)], &FIN, within).is_err());
        assert!(judge(&p, &[data, close(1002), pong], &FIN, within).is_err());
    }

    #[test]
    fn reassembles_fragments_and_flags_the_rest() {
        let frames =
            [text(false, op::TEXT, "ab"), text(true, op::CONT, "c"), text(true, op::CONT, "x")];
        let (messages, odd) = reassemble(frames.iter());
        assert_eq!(messages, [(op::TEXT, b"abc".to_vec())]);
        assert_eq!(odd, ["Continuation 1 bytes"]);
        let (_, odd) = reassemble([text(false, op::BINARY, "ab")].iter());
        assert_eq!(odd, ["an unfinished message (0x2, 2 bytes)"]);
    }
}
