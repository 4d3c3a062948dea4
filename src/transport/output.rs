//! What a script sends back, and the one loop both transports use to get it:
//! the script goes in while stdout and stderr come out (a script that prints
//! before it has read all of its input would otherwise stall both ends), each
//! stream kept under its [`OutputPolicy`] and handed line by line to the
//! [`LineSink`], all of it under the timeout and the cancel token.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::error::Stopped;
use super::options::{ExecOptions, LineSink, OutputPolicy, Stop, Stream};
use super::prelude;

/// Output of a script run on a host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOutput {
    /// The script's exit status; -1 when a signal ended it.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Bytes of stdout dropped by [`OutputPolicy::Tail`] before what `stdout` holds.
    pub stdout_dropped: u64,
    pub stderr_dropped: u64,
}

/// One stream as kept.
#[derive(Debug, Default)]
pub(super) struct Captured {
    pub(super) text: String,
    pub(super) dropped: u64,
}

/// Lines longer than this reach the sink in pieces, so that a host printing
/// megabytes without a newline cannot grow the line buffer.
const MAX_LINE: usize = 64 * 1024;

/// Stderr lines searched for the prelude's marker before giving up: what the
/// login shell's rc files or sshd print comes first.
const MARKER_SEARCH: usize = 64 * 1024;

struct Capture<'a> {
    stream: Stream,
    policy: OutputPolicy,
    kept: Vec<u8>,
    dropped: u64,
    sink: Option<&'a LineSink>,
    line: Vec<u8>,
    /// Set while looking for the prelude's first line (stderr only).
    marker: Option<Marker<'a>>,
}

struct Marker<'a> {
    pending: Vec<u8>,
    seen: usize,
    found: &'a OnceLock<u32>,
}

impl<'a> Capture<'a> {
    fn new(stream: Stream, policy: OutputPolicy, sink: Option<&'a LineSink>) -> Self {
        Capture {
            stream,
            policy,
            kept: Vec::new(),
            dropped: 0,
            sink,
            line: Vec::new(),
            marker: None,
        }
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<(), Stop> {
        let Some(marker) = &mut self.marker else {
            return self.keep(chunk);
        };
        marker.pending.extend_from_slice(chunk);
        marker.seen += chunk.len();
        // Whole lines only: the marker may arrive split across reads.
        while let Some(end) = self
            .marker
            .as_ref()
            .and_then(|m| m.pending.iter().position(|&b| b == b'\n'))
        {
            let marker = self.marker.as_mut().expect("checked above");
            let line: Vec<u8> = marker.pending.drain(..=end).collect();
            if let Some(pgid) = prelude::parse_marker(&line) {
                let _ = marker.found.set(pgid);
                let rest = std::mem::take(&mut marker.pending);
                self.marker = None;
                self.keep(&rest)?;
                return Ok(());
            }
            self.keep(&line)?;
        }
        if self.marker.as_ref().is_some_and(|m| m.seen > MARKER_SEARCH) {
            self.give_up_marker()?;
        }
        Ok(())
    }

    fn give_up_marker(&mut self) -> Result<(), Stop> {
        if let Some(marker) = self.marker.take() {
            self.keep(&marker.pending)?;
        }
        Ok(())
    }

    fn keep(&mut self, chunk: &[u8]) -> Result<(), Stop> {
        if chunk.is_empty() {
            return Ok(());
        }
        match self.policy {
            OutputPolicy::Whole { max_bytes } => {
                if (self.kept.len() + chunk.len()) as u64 > max_bytes {
                    return Err(Stop::TooMuchOutput(self.stream, max_bytes));
                }
                self.kept.extend_from_slice(chunk);
            }
            OutputPolicy::Tail { keep_bytes } => {
                self.kept.extend_from_slice(chunk);
                // Trim in batches, not on every read: moving the kept bytes each
                // time would cost as much as the output is long, squared.
                let keep = usize::try_from(keep_bytes).unwrap_or(usize::MAX);
                if self.kept.len() > keep.saturating_add(keep.max(MAX_LINE)) {
                    self.trim(keep);
                }
            }
        }
        if let Some(sink) = self.sink {
            self.lines(sink, chunk);
        }
        Ok(())
    }

    fn trim(&mut self, keep: usize) {
        let excess = self.kept.len().saturating_sub(keep);
        self.kept.drain(..excess);
        self.dropped += excess as u64;
    }

    fn lines(&mut self, sink: &LineSink, mut chunk: &[u8]) {
        while let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&chunk[..end]);
            sink(self.stream, &String::from_utf8_lossy(&self.line));
            self.line.clear();
            chunk = &chunk[end + 1..];
        }
        self.line.extend_from_slice(chunk);
        while self.line.len() >= MAX_LINE {
            let piece: Vec<u8> = self.line.drain(..MAX_LINE).collect();
            sink(self.stream, &String::from_utf8_lossy(&piece));
        }
    }

    fn finish(mut self) -> Result<Captured, Stop> {
        self.give_up_marker()?;
        if let (Some(sink), false) = (self.sink, self.line.is_empty()) {
            sink(self.stream, &String::from_utf8_lossy(&self.line));
        }
        if let OutputPolicy::Tail { keep_bytes } = self.policy {
            self.trim(usize::try_from(keep_bytes).unwrap_or(usize::MAX));
            if self.dropped > 0 {
                // Start at a whole character: the cut may have split one.
                let partial = self.kept.iter().take(3).take_while(|&&b| b & 0xc0 == 0x80).count();
                self.kept.drain(..partial);
                self.dropped += partial as u64;
            }
        }
        let mut text =
            String::from_utf8(self.kept).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        if self.dropped > 0 {
            // The cut may have split a secret: marked for the redactor.
            text.insert(0, crate::text::CUT);
        }
        Ok(Captured {
            text,
            dropped: self.dropped,
        })
    }
}

/// The first stream to go over its `Whole` limit, for [`drive`] to act on while
/// the streams are still read.
#[derive(Default)]
pub(super) struct Overflow {
    stop: OnceLock<Stop>,
    raised: Notify,
}

impl Overflow {
    fn raise(&self, stop: Stop) {
        if self.stop.set(stop).is_ok() {
            self.raised.notify_one();
        }
    }

    async fn raised(&self) -> Stop {
        self.raised.notified().await;
        *self.stop.get().expect("set before notifying")
    }
}

/// Reads `pipe` to its end. Past the limit it keeps reading and drops what it
/// reads: a script being stopped must not die of SIGPIPE in its traps.
async fn pump<R: AsyncRead + Unpin>(
    pipe: Option<R>,
    mut capture: Capture<'_>,
    overflow: &Overflow,
) -> Result<Captured, Stop> {
    let mut over = None;
    if let Some(mut pipe) = pipe {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match pipe.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) if over.is_none() => {
                    if let Err(stop) = capture.feed(&buf[..n]) {
                        overflow.raise(stop);
                        over = Some(stop);
                    }
                }
                Ok(_) => {}
                // A read error is a symptom; the exit status (or the transport's
                // liveness check) says what happened.
                Err(_) => break,
            }
        }
    }
    match over {
        Some(stop) => Err(stop),
        None => capture.finish(),
    }
}

/// Sends `input` (the pieces one after the other, then EOF) while reading both
/// streams to their end. `pgid` receives the process group the prelude reported
/// on stderr; `overflow` is raised as soon as a stream goes over its limit.
pub(super) async fn converse<W, O, E>(
    input: [&[u8]; 2],
    stdin: Option<W>,
    stdout: Option<O>,
    stderr: Option<E>,
    options: &ExecOptions,
    pgid: &OnceLock<u32>,
    overflow: &Overflow,
) -> Result<(Captured, Captured), Stop>
where
    W: AsyncWrite + Unpin,
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
{
    let send = async move {
        if let Some(mut stdin) = stdin {
            for piece in input {
                // A script that exits early closes its stdin: not an error of ours.
                if stdin.write_all(piece).await.is_err() {
                    break;
                }
            }
            let _ = stdin.flush().await;
            // Dropping stdin is what sends EOF; `sh -s` waits for it.
            drop(stdin);
        }
    };
    let out = Capture::new(Stream::Stdout, options.stdout, options.on_line.as_ref());
    let mut err = Capture::new(Stream::Stderr, options.stderr, options.on_line.as_ref());
    err.marker = Some(Marker {
        pending: Vec::new(),
        seen: 0,
        found: pgid,
    });
    let ((), out, err) = tokio::join!(send, pump(stdout, out, overflow), pump(stderr, err, overflow));
    Ok((out?, err?))
}

/// How long the streams may stay open after the script was stopped: something
/// outside its process group (a daemon it started with `setsid`) may hold them.
const LINGER: Duration = Duration::from_millis(200);

/// Runs `work` (the conversation, then the exit status) under the options' timeout
/// and cancel token and the output limits. When one of them strikes, `stop` stops
/// the script on the host while `work` goes on reading its output (so that the
/// script's traps can still write) and reaping it.
pub(super) async fn drive<T, F>(
    work: impl Future<Output = Result<T, Stop>>,
    options: &ExecOptions,
    overflow: &Overflow,
    stop: impl FnOnce() -> F,
) -> Result<T, (Stop, Stopped)>
where
    F: Future<Output = Stopped>,
{
    let timeout = async {
        match options.timeout {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
    };
    let cancelled = async {
        match &options.cancel {
            Some(token) => token.cancelled().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(work);
    let reason = tokio::select! {
        result = &mut work => match result {
            Ok(done) => return Ok(done),
            // Raised and finished at once: stop it all the same.
            Err(stop) => stop,
        },
        () = timeout => Stop::TimedOut,
        () = cancelled => Stop::Cancelled,
        stop = overflow.raised() => stop,
    };
    let stopping = stop();
    tokio::pin!(stopping);
    let mut finished = false;
    let stopped = loop {
        tokio::select! {
            stopped = &mut stopping => break stopped,
            _ = &mut work, if !finished => finished = true,
        }
    };
    if !finished {
        let _ = tokio::time::timeout(LINGER, &mut work).await;
    }
    Err((reason, stopped))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn run(policy: OutputPolicy, chunks: &[&[u8]], sink: Option<&LineSink>) -> Result<Captured, Stop> {
        let mut c = Capture::new(Stream::Stdout, policy, sink);
        for chunk in chunks {
            c.feed(chunk)?;
        }
        c.finish()
    }

    #[test]
    fn tail_keeps_the_last_bytes_and_counts_the_rest() {
        let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let pieces: Vec<&[u8]> = big.chunks(7000).collect();
        let got = run(OutputPolicy::Tail { keep_bytes: 1000 }, &pieces, None).unwrap();
        let text = got.text.strip_prefix(crate::text::CUT).expect("the cut is marked");
        assert_eq!(text.as_bytes(), &big[big.len() - 1000..]);
        assert_eq!(got.dropped, 299_000);
        // A cut inside a character moves to the next whole one.
        let text = "é".repeat(10);
        let got = run(OutputPolicy::Tail { keep_bytes: 5 }, &[text.as_bytes()], None).unwrap();
        assert_eq!((got.text.as_str(), got.dropped), ("\u{e002}éé", 16));
        // Nothing dropped, nothing marked.
        let got = run(OutputPolicy::Tail { keep_bytes: 5 }, &[b"12345"], None).unwrap();
        assert_eq!((got.text.as_str(), got.dropped), ("12345", 0));
    }

    #[test]
    fn whole_refuses_more_than_its_limit() {
        let limit = OutputPolicy::Whole { max_bytes: 10 };
        assert_eq!(run(limit, &[b"12345", b"67890"], None).unwrap().text, "1234567890");
        assert_eq!(
            run(limit, &[b"12345", b"678901"], None).unwrap_err(),
            Stop::TooMuchOutput(Stream::Stdout, 10)
        );
    }

    #[test]
    fn lines_reach_the_sink_whole_and_bounded() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        let sink: LineSink = Arc::new(move |stream, line| s.lock().unwrap().push((stream, line.to_string())));
        let long = vec![b'x'; MAX_LINE + 5];
        run(
            OutputPolicy::Tail { keep_bytes: 0 },
            &[b"one\ntw", b"o\n", &long, b"\nlast"],
            Some(&sink),
        )
        .unwrap();
        let lines: Vec<String> = seen.lock().unwrap().iter().map(|(_, l)| l.clone()).collect();
        assert_eq!(
            lines.len(),
            5,
            "{:?}",
            lines.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_eq!((lines[0].as_str(), lines[1].as_str()), ("one", "two"));
        assert_eq!((lines[2].len(), lines[3].len()), (MAX_LINE, 5));
        assert_eq!(lines[4], "last");
    }

    #[test]
    fn the_marker_is_taken_out_of_stderr() {
        let found = OnceLock::new();
        let mut c = Capture::new(Stream::Stderr, OutputPolicy::WHOLE_DEFAULT, None);
        c.marker = Some(Marker {
            pending: Vec::new(),
            seen: 0,
            found: &found,
        });
        let marker = prelude::MARKER.as_bytes();
        c.feed(b"from .bashrc\n").unwrap();
        c.feed(&marker[..3]).unwrap();
        c.feed(&marker[3..]).unwrap();
        c.feed(b"4242\nscript err").unwrap();
        c.feed(b"or\n").unwrap();
        assert_eq!(c.finish().unwrap().text, "from .bashrc\nscript error\n");
        assert_eq!(found.get(), Some(&4242));
    }
}
