//! A cellular modem on a pseudo-terminal, for tests of the probe's modem
//! driver with the real binary (SPEC 4.4, the virtual board).
//!
//! [`ModemEmulator::start`] opens a pty pair and answers AT commands on its
//! master side like a Quectel EC25 (LTE; `AT+QENG="servingcell"`) or a
//! SIMCom SIM800 (GSM only; no `AT+CPSI`, so the probe falls back to
//! `AT+CREG?`, `AT+COPS?` and `AT+CSQ`). The probe opens the slave side,
//! [`ModemEmulator::path`], as it would `/dev/ttyUSB2`. The test moves the
//! modem to another cell with [`ModemEmulator::set_cell`]; once the probe has
//! asked for location reports (`AT+CREG=2`), the move is also announced
//! unasked with a `+CREG:` line, as real modems do. [`ModemEmulator::commands`]
//! lists what the probe sent.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};

/// The modem emulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Quectel EC25: LTE, `AT+QENG`.
    QuectelEc25,
    /// SIMCom SIM800: GSM, `AT+CREG`/`AT+COPS`/`AT+CSQ` only.
    SimcomSim800,
}

/// The cell the emulated modem is camped on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Mobile country code.
    pub mcc: u16,
    /// Mobile network code.
    pub mnc: u16,
    /// Two digits of MNC (`00`) rather than three.
    pub mnc_digits: u8,
    /// LAC (GSM) or TAC (LTE).
    pub area: u16,
    /// Cell identity (16 bits in GSM, 28 in LTE).
    pub cell_id: u32,
    /// Received signal, dBm (RSSI in GSM, RSRP in LTE).
    pub signal_dbm: i32,
}

impl Cell {
    /// A China Mobile cell (MCC 460, MNC 00).
    pub fn china_mobile(area: u16, cell_id: u32) -> Cell {
        Cell { mcc: 460, mnc: 0, mnc_digits: 2, area, cell_id, signal_dbm: -85 }
    }

    fn mnc(&self) -> String {
        format!("{:0width$}", self.mnc, width = self.mnc_digits as usize)
    }
}

#[derive(Debug)]
struct State {
    model: Model,
    cell: Option<Cell>,
    creg_n: u8,
    echo: bool,
    commands: Vec<String>,
    pending: Vec<u8>,
    unsolicited: usize,
}

/// The emulator; stops when dropped.
#[derive(Debug)]
pub struct ModemEmulator {
    path: PathBuf,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    // Kept open so the pty does not hang up between the probe's opens.
    _slave: File,
}

impl ModemEmulator {
    /// Opens a pty pair and starts answering as `model`, camped on `cell`
    /// (`None`: searching, not registered).
    pub fn start(model: Model, cell: Option<Cell>) -> std::io::Result<ModemEmulator> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let path = PathBuf::from(ptsname(&master, Vec::new())?.into_string().map_err(std::io::Error::other)?);
        let slave = std::fs::OpenOptions::new().read(true).write(true).open(&path)?;
        let mut t = tcgetattr(&slave)?;
        t.make_raw();
        tcsetattr(&slave, OptionalActions::Now, &t)?;
        let state = Arc::new(Mutex::new(State {
            model,
            cell,
            creg_n: 0,
            echo: true,
            commands: Vec::new(),
            pending: Vec::new(),
            unsolicited: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::Builder::new().name("modem-emulator".into()).spawn(move || serve(master, &state, &stop))?
        };
        Ok(ModemEmulator { path, state, stop, thread: Some(thread), _slave: slave })
    }

    /// The tty the probe opens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the modem to `cell` (`None`: lost service), announcing it with
    /// an unsolicited `+CREG:` line if the probe asked for reports.
    pub fn set_cell(&self, cell: Option<Cell>) {
        let mut s = self.state.lock().unwrap();
        s.cell = cell;
        if s.creg_n > 0 {
            let line = match (&s.cell, s.creg_n) {
                (Some(c), 2) => format!("\r\n+CREG: 1,\"{:04X}\",\"{:X}\"{}\r\n", c.area, c.cell_id, act(s.model)),
                (Some(_), _) => "\r\n+CREG: 1\r\n".to_string(),
                (None, _) => "\r\n+CREG: 2\r\n".to_string(),
            };
            s.pending.extend_from_slice(line.as_bytes());
            s.unsolicited += 1;
        }
    }

    /// How many unsolicited `+CREG:` lines the emulator has announced (each
    /// is written before the next reply).
    pub fn unsolicited(&self) -> usize {
        self.state.lock().unwrap().unsolicited
    }

    /// The commands received so far, in order.
    pub fn commands(&self) -> Vec<String> {
        self.state.lock().unwrap().commands.clone()
    }
}

impl Drop for ModemEmulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `,<AcT>` for `+CREG` with location: 7 (E-UTRAN) or 0 (GSM).
fn act(model: Model) -> &'static str {
    match model {
        Model::QuectelEc25 => ",7",
        Model::SimcomSim800 => ",0",
    }
}

fn serve(master: OwnedFd, state: &Mutex<State>, stop: &AtomicBool) {
    let mut file = File::from(master);
    let mut line = Vec::new();
    let mut buf = [0u8; 512];
    let timeout = Timespec { tv_sec: 0, tv_nsec: 50_000_000 };
    while !stop.load(Ordering::Relaxed) {
        let pending = std::mem::take(&mut state.lock().unwrap().pending);
        if !pending.is_empty() && file.write_all(&pending).is_err() {
            return;
        }
        let ready = {
            let mut fds = [PollFd::new(&file, PollFlags::IN)];
            poll(&mut fds, Some(&timeout)).unwrap_or(0) > 0 && fds[0].revents().contains(PollFlags::IN)
        };
        if !ready {
            continue;
        }
        let n = match file.read(&mut buf) {
            Ok(0) | Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if b == b'\r' || b == b'\n' {
                if line.is_empty() {
                    continue;
                }
                let command = String::from_utf8_lossy(&line).trim().to_string();
                line.clear();
                let reply = {
                    let mut s = state.lock().unwrap();
                    let echo = if s.echo { format!("{command}\r") } else { String::new() };
                    s.commands.push(command.clone());
                    echo + &answer(&mut s, &command)
                };
                if file.write_all(reply.as_bytes()).is_err() {
                    return;
                }
            } else if line.len() < 1024 {
                line.push(b);
            }
        }
    }
}

/// The modem's reply to one command (result code included).
fn answer(s: &mut State, command: &str) -> String {
    const OK: &str = "\r\nOK\r\n";
    const ERROR: &str = "\r\nERROR\r\n";
    let upper = command.to_ascii_uppercase();
    let body = |lines: &[String]| -> String {
        let mut out = String::new();
        for l in lines {
            out.push_str("\r\n");
            out.push_str(l);
            out.push_str("\r\n");
        }
        out + OK
    };
    match upper.as_str() {
        "AT" => OK.into(),
        "ATE0" => {
            s.echo = false;
            OK.into()
        }
        "ATE1" => {
            s.echo = true;
            OK.into()
        }
        "AT+CMEE=1" | "AT+COPS=3,2" => OK.into(),
        "ATI" => match s.model {
            Model::QuectelEc25 => body(&["Quectel".into(), "EC25".into(), "Revision: EC25EFAR06A06M4G".into()]),
            Model::SimcomSim800 => body(&["SIM800 R14.18".into()]),
        },
        "AT+CGMI" => match s.model {
            Model::QuectelEc25 => body(&["Quectel".into()]),
            Model::SimcomSim800 => body(&["SIMCOM_Ltd".into()]),
        },
        c if c.starts_with("AT+CREG=") => match c["AT+CREG=".len()..].parse::<u8>() {
            Ok(n @ 0..=2) => {
                s.creg_n = n;
                OK.into()
            }
            _ => ERROR.into(),
        },
        "AT+CREG?" => body(&[match &s.cell {
            Some(c) if s.creg_n == 2 => format!("+CREG: 2,1,\"{:04X}\",\"{:X}\"{}", c.area, c.cell_id, act(s.model)),
            Some(_) => format!("+CREG: {},1", s.creg_n),
            None => format!("+CREG: {},2", s.creg_n),
        }]),
        "AT+COPS?" => body(&[match &s.cell {
            Some(c) => format!("+COPS: 0,2,\"{}{}\"{}", c.mcc, c.mnc(), act(s.model)),
            None => "+COPS: 0".into(),
        }]),
        "AT+CSQ" => body(&[match &s.cell {
            // 27.007: rssi = (dBm + 113) / 2, 0..=31.
            Some(c) => format!("+CSQ: {},0", ((c.signal_dbm + 113) / 2).clamp(0, 31)),
            None => "+CSQ: 99,99".into(),
        }]),
        "AT+QENG=\"SERVINGCELL\"" if s.model == Model::QuectelEc25 => body(&[match &s.cell {
            Some(c) => format!(
                "+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",{},{},{:X},123,1650,3,5,5,{:X},{},-10,-60,12,40",
                c.mcc,
                c.mnc(),
                c.cell_id,
                c.area,
                c.signal_dbm
            ),
            None => "+QENG: \"servingcell\",\"SEARCH\"".into(),
        }]),
        "AT+QENG=\"NEIGHBOURCELL\"" if s.model == Model::QuectelEc25 => OK.into(),
        _ => ERROR.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(tty: &mut File, command: &str) -> String {
        tty.write_all(format!("{command}\r").as_bytes()).unwrap();
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut buf = [0u8; 256];
        while !(got.ends_with(b"OK\r\n") || got.ends_with(b"ERROR\r\n")) {
            assert!(
                std::time::Instant::now() < deadline,
                "no answer to {command}: {:?}",
                String::from_utf8_lossy(&got)
            );
            if let Ok(n) = tty.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    #[test]
    fn answers_like_an_ec25_and_follows_a_cell_change() {
        let m = ModemEmulator::start(Model::QuectelEc25, Some(Cell::china_mobile(0x2A3B, 0x1A2D001))).unwrap();
        let mut tty = std::fs::OpenOptions::new().read(true).write(true).open(m.path()).unwrap();
        assert!(ask(&mut tty, "ATE0").contains("OK"));
        assert!(ask(&mut tty, "ATI").contains("Quectel"));
        let qeng = ask(&mut tty, "AT+QENG=\"servingcell\"");
        assert!(qeng.contains("\"LTE\",\"FDD\",460,00,1A2D001,"), "{qeng}");
        assert!(ask(&mut tty, "AT+CPSI?").contains("ERROR"));
        m.set_cell(Some(Cell::china_mobile(0x2A3C, 0x1A2D002)));
        assert!(ask(&mut tty, "AT+CREG=2").contains("OK"));
        let creg = ask(&mut tty, "AT+CREG?");
        assert!(creg.contains("+CREG: 2,1,\"2A3C\",\"1A2D002\",7"), "{creg}");
        assert_eq!(m.commands()[..2], ["ATE0".to_string(), "ATI".to_string()]);
    }

    #[test]
    fn a_sim800_has_no_engineering_command_and_can_lose_service() {
        let m = ModemEmulator::start(Model::SimcomSim800, Some(Cell::china_mobile(0x550A, 0x2BC6))).unwrap();
        let mut tty = std::fs::OpenOptions::new().read(true).write(true).open(m.path()).unwrap();
        assert!(ask(&mut tty, "ATI").contains("SIM800"));
        assert!(ask(&mut tty, "AT+CPSI?").contains("ERROR"));
        assert!(ask(&mut tty, "AT+COPS?").contains("+COPS: 0,2,\"46000\",0"));
        assert!(ask(&mut tty, "AT+CSQ").contains("+CSQ: 14,0"));
        m.set_cell(None);
        assert!(ask(&mut tty, "AT+CREG?").contains("+CREG: 0,2"));
    }
}
