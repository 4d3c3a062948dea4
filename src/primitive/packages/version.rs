//! Version comparison the way each package manager does it, in Rust: the probe
//! only reports installed versions, and verify compares them with the script's
//! constraints without another process on the host. `dpkg` follows
//! `dpkg --compare-versions` (epoch, upstream, revision; `~` sorts before
//! everything, letters before other characters); `rpm` follows `rpmvercmp` on
//! epoch, version and release (a side without a release matches any release).

use std::cmp::Ordering;

/// Debian version order: `[epoch:]upstream[-revision]`.
pub fn dpkg(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = dpkg_parts(a);
    let (eb, ub, rb) = dpkg_parts(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua.as_bytes(), ub.as_bytes()))
        .then_with(|| verrevcmp(ra.as_bytes(), rb.as_bytes()))
}

fn dpkg_parts(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) && !e.is_empty() => (e.parse().unwrap_or(0), r),
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((u, r)) => (epoch, u, r),
        None => (epoch, rest, ""),
    }
}

/// The weight of one non-digit character: `~` first (even before the end),
/// then the end, then letters, then everything else.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// RPM order of `[epoch:]version[-release]`; a missing epoch is 0, and a release
/// is only compared when both sides have one.
pub fn rpm(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = rpm_parts(a);
    let (eb, vb, rb) = rpm_parts(b);
    let by_release = match (ra, rb) {
        (Some(x), Some(y)) => rpmvercmp(x, y),
        _ => Ordering::Equal,
    };
    ea.cmp(&eb).then_with(|| rpmvercmp(va, vb)).then(by_release)
}

fn rpm_parts(v: &str) -> (u64, &str, Option<&str>) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) && !e.is_empty() => (e.parse().unwrap_or(0), r),
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) => (epoch, v, Some(r)),
        None => (epoch, rest, None),
    }
}

/// rpm's `rpmvercmp`: alternating runs of digits and letters, separators ignored;
/// `~` sorts before anything (pre-releases), `^` after the end but before
/// anything else (snapshots).
fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            match (ca, cb) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(x), _) if x != b'^' => return Ordering::Greater,
                (_, Some(y)) if y != b'^' => return Ordering::Less,
                _ => {}
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca.is_none() || cb.is_none() {
            break;
        }
        let numeric = a[i].is_ascii_digit();
        let run = |s: &[u8], k: usize| -> usize {
            let mut e = k;
            while e < s.len()
                && (if numeric {
                    s[e].is_ascii_digit()
                } else {
                    s[e].is_ascii_alphabetic()
                })
            {
                e += 1;
            }
            e
        };
        let (ea, eb) = (run(a, i), run(b, j));
        if eb == j {
            // A numeric segment is newer than an alphabetic one.
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let (mut sa, mut sb) = (&a[i..ea], &b[j..eb]);
        let rc = if numeric {
            while sa.first() == Some(&b'0') {
                sa = &sa[1..];
            }
            while sb.first() == Some(&b'0') {
                sb = &sb[1..];
            }
            sa.len().cmp(&sb.len()).then_with(|| sa.cmp(sb))
        } else {
            sa.cmp(sb)
        };
        if rc != Ordering::Equal {
            return rc;
        }
        i = ea;
        j = eb;
    }
    match (i < a.len(), j < b.len()) {
        (false, false) => Ordering::Equal,
        (true, _) => Ordering::Greater,
        (false, true) => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn dpkg_order_matches_compare_versions() {
        // Checked against `dpkg --compare-versions` on Debian 12.
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0-1", Less),
            ("15", "15.2-1", Less),
            ("15-1", "15", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1:1.0", "2.0", Greater),
            ("1.10", "1.9", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0+b1", "1.0a", Greater),
            ("2.30-1+deb12u1", "2.30-1", Greater),
            ("0.9", "00.9", Equal),
            ("1.0-1", "1.0-1~bpo1", Greater),
        ] {
            assert_eq!(dpkg(a, b), want, "{a} vs {b}");
            assert_eq!(dpkg(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn rpm_order_matches_rpmvercmp() {
        // Cases from rpm's own test suite (tests/rpmvercmp.at).
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("1.0aa", "1.0a", Greater),
            ("2a", "2.0", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("1:1.0-1", "2.0-1", Greater),
            ("15", "15.2-1.el9", Less),
            ("15.2", "15.2-3.el9", Equal),
        ] {
            assert_eq!(rpm(a, b), want, "{a} vs {b}");
            assert_eq!(rpm(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
