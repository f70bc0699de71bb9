//! Office files made by the real LibreOffice for the tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `csv` (UTF-8, comma, double quotes) saved as `dir/NAME.xlsx` by LibreOffice, as an
/// office's table would be.
pub fn xlsx_from_csv(dir: &Path, name: &str, csv: &str) -> PathBuf {
    let src = dir.join(format!("{name}.csv"));
    std::fs::write(&src, csv).unwrap();
    let profile = dir.join("lo-profile");
    let out = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args([
            "--headless",
            "--infilter=CSV:44,34,76,1",
            "--convert-to",
            "xlsx",
            "--outdir",
        ])
        .arg(dir)
        .arg(&src)
        .output()
        .expect("soffice (LibreOffice) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join(format!("{name}.xlsx"));
    assert!(path.exists(), "{}", String::from_utf8_lossy(&out.stderr));
    path
}
