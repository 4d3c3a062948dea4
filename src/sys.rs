//! Facts about the machine ordo runs on and small helpers every layer shares: who
//! runs ordo, what time it is, short content hashes. No layer above is imported
//! here.

use sha2::{Digest, Sha256};

/// The variables that hold (`ORDO_AGE_KEY`) or point at (`ORDO_AGE_IDENTITY`) the
/// private key secrets are decrypted with. ordo reads them when it starts and
/// removes them from its environment, so that no process it starts inherits them
/// (`secrets::keep_key_variables`).
pub const KEY_VARIABLES: [&str; 2] = ["ORDO_AGE_IDENTITY", "ORDO_AGE_KEY"];

/// The login name of whoever runs ordo.
pub fn current_user() -> String {
    if let Ok(u) = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        return u;
    }
    // No login variables (cron, CI): look the uid up in /etc/passwd.
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    uid.and_then(|uid| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
    })
    .unwrap_or_else(|| "unknown".into())
}

/// This machine's name, as recorded in locks and host states.
pub fn machine() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `user@machine` of whoever runs ordo.
pub fn operator() -> String {
    format!("{}@{}", current_user(), machine())
}

/// sha256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The first 16 hex digits of the sha256 of `bytes`: names and fingerprints that
/// are unique in practice and short enough to read.
pub fn short_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes)[..8])
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Seconds since the epoch as RFC 3339 UTC, without pulling in a date crate.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn hashes() {
        assert_eq!(super::short_hash(b"").len(), 16);
        assert!(super::sha256_hex(b"").starts_with("e3b0c442"));
    }
}
