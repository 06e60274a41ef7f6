//! Network namespaces for tests that put real traffic on real interfaces
//! (SPEC 4.4): every packet stays inside a namespace the test made, which is
//! deleted — with every process still in it — when the [`Netns`] drops.
//!
//! Needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2's `ip`.
//! Processes run inside with [`Netns::command`] (`ip netns exec`, which
//! `exec`s the program, so the child's pid is the program's); code of the
//! test itself runs inside with [`Netns::enter`], on a thread of its own.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Why a namespace could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// `ip` is missing.
    #[error("`ip` (iproute2) is not installed: apt-get install iproute2")]
    NoIp,
    /// A command failed.
    #[error("`{command}` failed: {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// What it printed on stderr (or its exit status).
        stderr: String,
    },
    /// Entering the namespace failed.
    #[error("cannot enter network namespace {name}: {message} (needs root)")]
    Enter {
        /// The namespace.
        name: String,
        /// The system's reason.
        message: String,
    },
}

/// A network namespace owned by a test.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

static SERIAL: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) -> Result<(), NetnsError> {
    let out = Command::new("ip").args(args).stdin(Stdio::null()).output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => NetnsError::NoIp,
        _ => NetnsError::Command { command: format!("ip {}", args.join(" ")), stderr: e.to_string() },
    })?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let stderr = if stderr.is_empty() { out.status.to_string() } else { stderr };
        Err(NetnsError::Command { command: format!("ip {}", args.join(" ")), stderr })
    }
}

impl Netns {
    /// A new namespace named `<prefix><pid>-<n>` with its loopback up and
    /// IPv6 off (no router solicitations or duplicate-address probes among
    /// the test's traffic).
    pub fn create(prefix: &str) -> Result<Netns, NetnsError> {
        let name = format!("{prefix}{}-{}", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed));
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        for key in ["net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"] {
            ns.sysctl(key, "1")?;
        }
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Sets a sysctl inside the namespace (`/proc/sys/net` shows the
    /// namespace of the thread that opens it).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), NetnsError> {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let ok = self.enter(|| std::fs::write(&path, value).map_err(|e| e.to_string()))?;
        ok.map_err(|stderr| NetnsError::Command { command: format!("sysctl {key}={value}"), stderr })
    }

    /// The namespace's name (as `ip netns` lists it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS…`.
    pub fn ip(&self, args: &[&str]) -> Result<(), NetnsError> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Makes the veth pair `a` ↔ `b` inside the namespace, both up, with `mtu`.
    pub fn veth(&self, a: &str, b: &str, mtu: u32) -> Result<(), NetnsError> {
        self.ip(&["link", "add", a, "type", "veth", "peer", "name", b])?;
        let mtu = mtu.to_string();
        for dev in [a, b] {
            self.ip(&["link", "set", dev, "mtu", &mtu, "up"])?;
        }
        Ok(())
    }

    /// Makes the veth pair `name` (here) ↔ `peer_name` (in `peer`), both up,
    /// with `mtu`: a cable between two namespaces.
    pub fn veth_to(&self, name: &str, peer: &Netns, peer_name: &str, mtu: u32) -> Result<(), NetnsError> {
        ip(&[
            "link", "add", name, "netns", &self.name, "type", "veth", "peer", "name", peer_name, "netns", &peer.name,
        ])?;
        let mtu = mtu.to_string();
        self.ip(&["link", "set", name, "mtu", &mtu, "up"])?;
        peer.ip(&["link", "set", peer_name, "mtu", &mtu, "up"])
    }

    /// Gives interface `dev` the address `cidr` (e.g. `10.0.0.1/24`).
    pub fn addr(&self, dev: &str, cidr: &str) -> Result<(), NetnsError> {
        self.ip(&["addr", "add", cidr, "dev", dev])
    }

    /// Runs `f` on a new thread, detached, that has joined the namespace
    /// (for a server or a sender that runs beside the test).
    pub fn spawn<F: FnOnce() + Send + 'static>(&self, f: F) -> Result<std::thread::JoinHandle<()>, NetnsError> {
        let path = PathBuf::from("/run/netns").join(&self.name);
        let err = |message: String| NetnsError::Enter { name: self.name.clone(), message };
        let file = File::open(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        let name = self.name.clone();
        std::thread::Builder::new()
            .name(format!("in-{name}"))
            .spawn(move || {
                match rustix::thread::move_into_link_name_space(
                    file.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                ) {
                    Ok(()) => f(),
                    Err(e) => panic!("cannot enter network namespace {name}: {e}"),
                }
            })
            .map_err(|e| err(e.to_string()))
    }

    /// A command running `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Runs `f` on a new thread that has joined the namespace (sockets it
    /// opens live there) and returns its result; a panic in `f` goes on in
    /// the caller.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
        let path = PathBuf::from("/run/netns").join(&self.name);
        let err = |message: String| NetnsError::Enter { name: self.name.clone(), message };
        let file = File::open(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        std::thread::scope(|s| {
            s.spawn(move || {
                rustix::thread::move_into_link_name_space(
                    file.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .map_err(|e| err(e.to_string()))?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Whatever a test left running inside goes with the namespace.
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.name]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        let _ = ip(&["netns", "del", &self.name]);
    }
}
