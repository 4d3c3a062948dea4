//! A sudoers rule for one test user (exactly the line ordo's messages ask for),
//! removed again when dropped.

use std::path::{Path, PathBuf};

pub struct SudoRule(PathBuf);

impl SudoRule {
    pub fn allow(user: &str) -> SudoRule {
        SudoRule::write(user, "")
    }

    /// The same rule, with sudo's `secure_path` (root's PATH under sudo) starting
    /// with `dir`: how the systemd tests give root the replacement `systemctl`
    /// without shadowing `/usr/bin/systemctl`.
    pub fn allow_with_path_first(user: &str, dir: &str) -> SudoRule {
        SudoRule::write(
            user,
            &format!(
                "Defaults:{user} secure_path=\"{dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\n"
            ),
        )
    }

    fn write(user: &str, defaults: &str) -> SudoRule {
        assert!(
            Path::new("/usr/bin/sudo").is_file(),
            "sudo is missing: the privileged tests need it (./test.sh installs it)"
        );
        let path = PathBuf::from(format!("/etc/sudoers.d/ordo-test-{user}"));
        std::fs::write(&path, format!("{defaults}{user} ALL=(root) NOPASSWD: /bin/sh -s\n")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o440)).unwrap();
        SudoRule(path)
    }
}

impl Drop for SudoRule {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
