//! Earlier values of an environment's secrets, for masking. After `ordo secrets
//! set` (or `edit`, `remove`) and before the next deploy, the hosts still hold
//! the old value, and a command that prints it must show it masked like the new
//! one. Old values come from git, without network and without anyone else's key:
//! every version of the environment's secrets files in the history of `HEAD`
//! (the last [`MAX_COMMITS`] commits that changed them) that one of your keys
//! decrypts. A value that was never committed (set, deployed, set again) is in
//! none of them; docs/secrets.md says so.
//!
//! Two git processes whatever the history: `git log --raw` names the versions
//! (blob ids), `git cat-file --batch` reads them. Ciphertexts that are still in
//! the working tree are skipped (an unchanged value keeps its ciphertext), and
//! what cannot be decrypted is skipped silently: a value encrypted before you
//! were a recipient was never yours to see, and nothing of it can be masked.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use super::format::ValuesFile;
use super::store::base64_decode;
use super::{Identities, SecretBytes, SecretStore};

/// How far back: commits that changed the environment's secrets files.
pub const MAX_COMMITS: usize = 200;

/// At most this many earlier ciphertexts are decrypted (each one a few
/// microseconds of X25519), whatever the history holds.
const MAX_DECRYPTIONS: usize = 5000;

impl SecretStore {
    /// Every earlier value and file content of the environment that git's history
    /// of `HEAD` holds and `ids` decrypts, without those still in the working
    /// tree. Empty outside a git repository or without git.
    pub fn earlier_values(&self, ids: &Identities) -> Vec<SecretBytes> {
        let values = self.values_path();
        let files = self.files_dir();
        let (Some(values_rel), Some(files_rel)) = (self.git_path(&values), self.git_path(&files)) else {
            return Vec::new();
        };
        let Some(log) = git(
            self.root(),
            &[
                "log",
                "--no-renames",
                "--raw",
                "--no-abbrev",
                "--format=",
                &format!("--max-count={MAX_COMMITS}"),
                "HEAD",
                "--",
                &values_rel,
                &files_rel,
            ],
            None,
        ) else {
            return Vec::new();
        };
        let blobs = versions(&String::from_utf8_lossy(&log));
        if blobs.is_empty() {
            return Vec::new();
        }
        let request: String = blobs.iter().map(|(blob, _)| format!("{blob}\n")).collect();
        let Some(contents) = git(self.root(), &["cat-file", "--batch"], Some(request.as_bytes())) else {
            return Vec::new();
        };
        let current: Vec<String> = self
            .values_file()
            .ok()
            .flatten()
            .map(|f| f.entries.into_iter().map(|(_, c)| c).collect())
            .unwrap_or_default();
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let mut ciphertexts: Vec<Vec<u8>> = Vec::new();
        for ((_, is_values), content) in blobs.iter().zip(batch(&contents)) {
            let Some(content) = content else { continue };
            if *is_values {
                let Ok(file) = ValuesFile::parse(&String::from_utf8_lossy(content), "history") else {
                    continue;
                };
                for (_, b64) in file.entries {
                    if current.contains(&b64) {
                        continue;
                    }
                    if let Some(ct) = base64_decode(&b64) {
                        ciphertexts.push(ct);
                    }
                }
            } else {
                ciphertexts.push(content.to_vec());
            }
        }
        let mut out = Vec::new();
        for ct in ciphertexts {
            if seen.len() >= MAX_DECRYPTIONS || seen.contains(&ct) {
                continue;
            }
            if let Ok(plain) = ids.decrypt(&ct) {
                out.push(plain);
            }
            seen.push(ct);
        }
        // Secret files still in the working tree decrypt to their current content,
        // which is masked already; the duplicate costs nothing but a needle check.
        out
    }

    /// `path` relative to the project root, as a git pathspec (`/`-separated).
    fn git_path(&self, path: &std::path::Path) -> Option<String> {
        let rel = path.strip_prefix(self.root()).ok()?;
        Some(format!(":(literal){}", rel.to_str()?))
    }
}

/// Blob ids of every version `git log --raw` names (old and new sides; deleted
/// and added files have an all-zero id on one side), each once, with whether
/// it is a values file (`*.secrets`) or an age file.
fn versions(log: &str) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for line in log.lines() {
        // `:100644 100644 <old> <new> M\tpath`
        let Some((meta, path)) = line.strip_prefix(':').and_then(|l| l.split_once('\t')) else {
            continue;
        };
        let is_values = path.ends_with(".secrets");
        if !is_values && !path.ends_with(".age") {
            continue;
        }
        let fields: Vec<&str> = meta.split(' ').collect();
        for blob in fields.iter().skip(2).take(2) {
            if blob.len() >= 40 && blob.bytes().any(|b| b != b'0') && !out.iter().any(|(b, _)| b == blob) {
                out.push(((*blob).to_string(), is_values));
            }
        }
    }
    out
}

/// The contents in `git cat-file --batch` output, one per requested object, in
/// order (`None` for a missing one).
fn batch(mut output: &[u8]) -> Vec<Option<&[u8]>> {
    let mut out = Vec::new();
    while let Some(end) = output.iter().position(|&b| b == b'\n') {
        let header = String::from_utf8_lossy(&output[..end]).into_owned();
        output = &output[end + 1..];
        // `<oid> <type> <size>` or `<object> missing`
        let size = header.rsplit(' ').next().and_then(|s| s.parse::<usize>().ok());
        match size {
            Some(size) if header.split(' ').count() == 3 && output.len() > size => {
                out.push(Some(&output[..size]));
                output = &output[size + 1..];
            }
            _ => out.push(None),
        }
    }
    out
}

/// Runs git in `dir`; its stdout when it succeeds.
fn git(dir: &std::path::Path, args: &[&str], stdin: Option<&[u8]>) -> Option<Vec<u8>> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("piped");
        let bytes = bytes.to_vec();
        // Written on a thread: git answers while it reads, and a full pipe would
        // stall both.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let mut out = Vec::new();
    child.stdout.take().expect("piped").read_to_end(&mut out).ok()?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    child.wait().ok()?.success().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_raw_log_lines() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let zero = "0".repeat(40);
        let log = format!(
            ":100644 100644 {a} {b} M\tsecrets/prod.secrets\n:000000 100644 {zero} {a} A\tsecrets/prod/tls.age\n:100644 100644 {a} {b} M\tsecrets/prod.recipients\n"
        );
        assert_eq!(
            versions(&log),
            [(a.clone(), true), (b.clone(), true)],
            "a blob is read once, as the first kind it was seen with"
        );
        let log = format!(":000000 100644 {zero} {a} A\tsecrets/prod/tls.age\n");
        assert_eq!(versions(&log), [(a, false)]);
    }

    #[test]
    fn batch_output_is_split_by_size() {
        let out = b"x blob 3\nabc\ny missing\nz blob 0\n\n";
        assert_eq!(batch(out), [Some(&b"abc"[..]), None, Some(&b""[..])]);
    }
}
