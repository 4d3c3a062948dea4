//! Wheels the tests build themselves, with no network and no build backend: a
//! pure-Python package with a console script, zipped by Python's `zipfile`
//! (the system's `python3`) with the metadata and RECORD pip and uv check.

use std::path::{Path, PathBuf};
use std::process::Command;

const MAKE: &str = r#"
import base64, hashlib, sys, zipfile
name, version, out = sys.argv[1], sys.argv[2], sys.argv[3]
info = f"{name}-{version}.dist-info"
files = {
    f"{name}/__init__.py": f"def main():\n    print('hello {version}')\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: ordo-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    f"{info}/entry_points.txt": f"[console_scripts]\n{name} = {name}:main\n",
}
record = []
for path, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(text.encode())}")
record.append(f"{info}/RECORD,,")
files[f"{info}/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(f"{out}/{name}-{version}-py3-none-any.whl", "w") as z:
    for path, text in files.items():
        z.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), text)
"#;

/// Writes `<dir>/<name>-<version>-py3-none-any.whl`: package `name`, whose console
/// script `name` prints `hello <version>`.
pub fn build(dir: &Path, name: &str, version: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new("/usr/bin/python3")
        .args(["-c", MAKE, name, version])
        .arg(dir)
        .status()
        .expect("/usr/bin/python3 builds the test wheels");
    assert!(status.success(), "building the test wheel failed");
    dir.join(format!("{name}-{version}-py3-none-any.whl"))
}
