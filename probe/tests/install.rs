//! `scripts/install-probe --root DIR`: the service's files land where the
//! unit expects them, and the installed example config is what `run` reads.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

#[test]
fn install_script_lays_out_the_service() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let root = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(repo.join("scripts/install-probe"))
        .args(["--binary", env!("CARGO_BIN_EXE_duanka-probe"), "--root"])
        .arg(root.path())
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bin = root.path().join("usr/local/bin/duanka-probe");
    assert_eq!(std::fs::metadata(&bin).unwrap().permissions().mode() & 0o777, 0o755);
    let config = root.path().join("etc/duanka/probe.toml");
    assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o640);
    let unit = std::fs::read_to_string(root.path().join("etc/systemd/system/duanka-probe.service")).unwrap();
    for line in [
        "User=duanka",
        "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN",
        "ExecStart=/usr/local/bin/duanka-probe run --config /etc/duanka/probe.toml",
        "StateDirectory=duanka",
    ] {
        assert!(unit.lines().any(|l| l == line), "unit lacks {line:?}");
    }
    // The installed config is read by `run`, which names what is missing (the token file).
    let run = Command::new(&bin).args(["run", "--config"]).arg(&config).output().unwrap();
    assert_eq!(run.status.code(), Some(2), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stderr).contains("agent.token_file"));
    // A second install keeps an edited config.
    std::fs::write(&config, "# edited\n").unwrap();
    let again = Command::new("bash")
        .arg(repo.join("scripts/install-probe"))
        .args(["--binary", env!("CARGO_BIN_EXE_duanka-probe"), "--root"])
        .arg(root.path())
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# edited\n");
}
