//! The master connection lives as long as ordo, however ordo ends. It runs with a
//! short `ControlPersist` (it exits [`PERSIST_IDLE_SECS`] after its last client
//! left), and ordo holds one idle control connection to it for the whole run:
//! OpenSSH counts an open control connection as a client, so the master stays
//! while ordo lives. When ordo ends — `close`, a panic, or SIGKILL, where no code
//! of ours runs — the kernel closes that connection, and the master exits a few
//! seconds later. That closes the TCP connection, sshd ends the session, and the
//! prelude's watchdog on the host stops what still ran there (decision 47).
//!
//! The socket is opened close-on-exec, so no process ordo starts can keep the
//! master alive by inheriting it.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How long a master waits for a new client after the last one left. Long enough
/// for ordo to connect its hold after starting the master, short enough that a
/// killed ordo's master is gone seconds later.
pub(super) const PERSIST_IDLE_SECS: usize = 5;

/// `MUX_MSG_HELLO` of the ControlMaster protocol (OpenSSH's PROTOCOL.mux).
const MUX_MSG_HELLO: u32 = 1;
const MUX_VERSION: u32 = 4;

/// An open, idle control connection to a master.
#[derive(Debug)]
pub(super) struct Hold(#[allow(dead_code)] UnixStream);

impl Hold {
    /// Connects to the master's control socket and exchanges the protocol's hello.
    pub(super) fn connect(socket: &Path) -> io::Result<Hold> {
        let mut stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        let mut hello = Vec::with_capacity(12);
        hello.extend_from_slice(&8u32.to_be_bytes());
        hello.extend_from_slice(&MUX_MSG_HELLO.to_be_bytes());
        hello.extend_from_slice(&MUX_VERSION.to_be_bytes());
        stream.write_all(&hello)?;
        // The master's hello: length, type, version (extensions, if any, are
        // left unread: nothing more is ever read from this connection).
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer)?;
        if answer[4..8] != MUX_MSG_HELLO.to_be_bytes() {
            return Err(io::Error::other("the master did not answer with a hello"));
        }
        Ok(Hold(stream))
    }
}
