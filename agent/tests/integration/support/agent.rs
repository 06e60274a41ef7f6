//! The real `duanka-agent` binary: CLI runs and `serve` processes.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long `serve` may take to announce itself.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary cargo built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_duanka-agent"))
}

/// Runs the CLI with `args` and `--data data`; panics if it cannot start.
pub fn cli(data: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("DUANKA_DATA")
        .env_remove("DUANKA_LOG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin().display()))
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Enrols a probe and returns its token (the last line of stdout).
pub fn enrol(data: &Path, name: &str) -> String {
    let out = cli(data, &["probe", "add", name]);
    assert!(out.status.success(), "probe add failed: {}", stderr(&out));
    stdout(&out).lines().last().expect("probe add printed nothing").to_owned()
}

/// A running `duanka-agent serve`.
pub struct Agent {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The certificate fingerprint it printed.
    pub fingerprint: String,
    /// Its stderr (logs), as a file.
    pub log: PathBuf,
}

impl Agent {
    /// Starts `serve` on a free loopback port over `data` and waits until it
    /// has printed its fingerprint and address.
    pub fn start(data: &Path) -> Agent {
        Self::start_with(data, &[])
    }

    /// [`Agent::start`] with extra arguments.
    pub fn start_with(data: &Path, extra: &[&str]) -> Agent {
        std::fs::create_dir_all(data).expect("data dir");
        let log = data.join(format!("serve-{}.log", std::process::id()));
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("log file");
        let mut child = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .env_remove("DUANKA_DATA")
            .env("DUANKA_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin().display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let (mut fingerprint, mut addr) = (None, None);
        while addr.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(fp) = line.strip_prefix("fingerprint: ") {
                        fingerprint = Some(fp.to_owned());
                    } else if let Some(a) = line.strip_prefix("listening on https://") {
                        addr = Some(a.parse::<SocketAddr>().unwrap_or_else(|e| panic!("bad address {a:?}: {e}")));
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "duanka-agent serve did not announce its address within {START_TIMEOUT:?}; log:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
        }
        let fingerprint = fingerprint.expect("serve printed its address before its fingerprint");
        Agent { child, addr: addr.expect("address"), fingerprint, log }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a live child has a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    }

    /// Sends SIGINT.
    pub fn interrupt(&self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a live child has a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    }

    /// Waits up to `limit` for the process to exit; its exit code, or None
    /// if it was still running (it is then killed).
    pub fn wait(mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status.code().unwrap_or(-1)),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return None;
                }
            }
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // A failed test must not leave a server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
