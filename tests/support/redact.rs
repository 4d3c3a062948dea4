//! The one redaction every snapshot and exact expectation goes through, so that
//! what differs from run to run (temporary directories, ports, users, timings,
//! dates, hashes, pids, who runs the tests) never makes a test flaky, and
//! everything else in ordo's output is pinned exactly.
//!
//! Round-trip counts are deterministic and stay as they are.

use std::sync::LazyLock;

use regex::Regex;

/// Patterns that need no knowledge of the test: applied after the literals.
static PATTERNS: LazyLock<Vec<(Regex, String)>> = LazyLock::new(|| {
    let version = regex::escape(ordo::VERSION);
    [
        // Temporary directories the literals did not catch (a path printed in
        // another spelling, or a directory of another project).
        (r"(/[^\s/:]+)*/ordo-test[A-Za-z0-9_]+", "[PROJECT]"),
        (r"(/[^\s/:]+)*/ordo-sshd[A-Za-z0-9_]+", "[SSHD]"),
        // RFC 3339 times (`deployed 2026-11-26T11:20:01Z`).
        (r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z\b", "[DATE]"),
        // Timings: `(12 ms)` after a step, `in 0.41 s` after the summary, and
        // `duration_ms` in JSON events.
        (r"\(\d+ ms\)", "([TIME])"),
        (r"\bin \d+\.\d+ s\b", "in [TIME]"),
        (r#""duration_ms":\d+"#, r#""duration_ms":"[TIME]""#),
        // Process ids of deploys and lock holders.
        (r"\bpid \d+", "pid [PID]"),
        (r#""pid":\d+"#, r#""pid":"[PID]""#),
        // Git commits: full hashes anywhere, abbreviated ones where status names
        // them. Before fingerprints, which are 16 hex digits.
        (r"\b[0-9a-f]{40}\b", "[COMMIT]"),
        (r"\bcommit [0-9a-f]{7,39}\b", "commit [COMMIT]"),
        // Fingerprints (and other short hashes, whole run ids among them).
        (r"\b[0-9a-f]{16}\b", "[FINGERPRINT]"),
        // Run ids as people see them (8 hex digits): an entry named in `ordo
        // status` and rollbacks, the first word of an `ordo log` line.
        (r"\b(entry|to|run) [0-9a-f]{8}\b", "$1 [RUN]"),
        (r"(?m)^([ !]) [0-9a-f]{8}  ", "$1 [RUN]  "),
        // Users the sshd harness creates (`ordot` + 6 random characters), where
        // the harness's own literals did not name them.
        (r"\bordot[a-z0-9]{6}\b", "[USER]"),
    ]
    .into_iter()
    .map(|(re, to)| (Regex::new(re).expect("valid redaction pattern"), to.to_string()))
    .chain([
        // The version changes on every release; nothing else about it is tested here.
        (
            Regex::new(&format!(r"\bordo {version}\b")).expect("version pattern"),
            "ordo [VERSION]".to_string(),
        ),
        (
            Regex::new(&format!(r#""ordo_version": ?"{version}""#)).expect("version pattern"),
            r#""ordo_version": "[VERSION]""#.to_string(),
        ),
    ])
    .collect()
});

/// `text` with each literal replaced by its placeholder (in the order given, so
/// longer paths go before the directories that contain them; all-digit literals
/// such as ports only as whole numbers), then the operator (`user@machine` of
/// whoever runs the tests) and the patterns above.
pub fn redact(text: &str, literals: &[(String, String)]) -> String {
    let mut text = text.to_string();
    for (from, to) in literals {
        if from.is_empty() {
            continue;
        }
        if from.bytes().all(|b| b.is_ascii_digit()) {
            let re = Regex::new(&format!(r"\b{from}\b")).expect("number pattern");
            text = re.replace_all(&text, regex::NoExpand(to)).into_owned();
        } else {
            text = text.replace(from, to);
        }
    }
    text = text.replace(&ordo::sys::operator(), "[OPERATOR]");
    for (re, to) in PATTERNS.iter() {
        text = re.replace_all(&text, to.as_str()).into_owned();
    }
    text
}

#[test]
fn redacts_what_varies_and_keeps_the_rest() {
    let literals = vec![
        ("/tmp/ordo-testAb12Cd".to_string(), "[PROJECT]".to_string()),
        ("40123".to_string(), "[PORT:t1]".to_string()),
    ];
    let operator = ordo::sys::operator();
    let text = format!(
        "/tmp/ordo-testAb12Cd/x port 40123 not 140123 (70 ms) in 0.41 s 2026-11-26T11:20:01Z\n\
         dd189b4f43e7a263 (current, commit 0123456789ab), ordo {} by {operator}; pid 4242\n\
         {{\"duration_ms\":171,\"pid\":7}} ordotx1y2z3 /var/tmp/ordo-sshdQw3rTy/t1 (2 round trips)\n",
        ordo::VERSION
    );
    assert_eq!(
        redact(&text, &literals),
        "[PROJECT]/x port [PORT:t1] not 140123 ([TIME]) in [TIME] [DATE]\n\
         [FINGERPRINT] (current, commit [COMMIT]), ordo [VERSION] by [OPERATOR]; pid [PID]\n\
         {\"duration_ms\":\"[TIME]\",\"pid\":\"[PID]\"} [USER] [SSHD]/t1 (2 round trips)\n"
    );
}
