//! Pure parsers for AT command response lines: no I/O, no state, no panics.
//!
//! Each function takes one line as the modem sent it (without the line end)
//! and returns a typed value or a [`ParseError`] saying what was wrong.
//! Sources of the formats:
//!
//! - 3GPP TS 27.007 §7.2 `+CREG` (network registration), §7.3 `+COPS`
//!   (operator selection, `<AcT>` values), §8.5 `+CSQ` (signal quality),
//!   §9.2 `+CME ERROR`; 3GPP TS 27.005 §3.2.5 `+CMS ERROR`; ITU-T V.250
//!   result codes (`OK`, `ERROR`).
//! - Quectel "EC2x&EG9x&EM05 Series AT Commands Manual" and "RG50xQ&RM5xxQ
//!   Series AT Commands Manual", `AT+QENG="servingcell"` and
//!   `AT+QENG="neighbourcell"` (engineering mode).
//! - SIMCom "SIM7500_SIM7600 Series AT Command Manual" and "SIM8200 Series AT
//!   Command Manual", `AT+CPSI?` (inquiring UE system information).
//!
//! Engineering-mode field order differs between radio access technologies
//! and between firmware versions, so those lines are parsed by their RAT tag
//! (`"LTE"`, `GSM`, …): fields are taken relative to the tag, wherever it
//! sits in the line. Values a modem prints as `-` (not available) parse as
//! `None`. Numbers that do not fit their type are errors, never wrapped.

use std::fmt;

use duanka_shared::events::OwnCell;

/// Why a line did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    /// What was wrong, in a few words.
    pub reason: &'static str,
}

fn err<T>(reason: &'static str) -> Result<T, ParseError> {
    Err(ParseError { reason })
}

/// Radio access technology, as [`OwnCell::rat`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rat {
    /// GSM / GPRS / EDGE (2G).
    Gsm,
    /// UMTS / HSPA (3G), TD-SCDMA included.
    Wcdma,
    /// LTE (4G), NB-IoT and Cat-M included.
    Lte,
    /// 5G NR.
    Nr,
}

impl Rat {
    /// The lowercase name used in events (`gsm`, `wcdma`, `lte`, `nr`).
    pub fn as_str(self) -> &'static str {
        match self {
            Rat::Gsm => "gsm",
            Rat::Wcdma => "wcdma",
            Rat::Lte => "lte",
            Rat::Nr => "nr",
        }
    }
}

impl fmt::Display for Rat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `<AcT>` of 27.007 §7.3, an open set: unknown values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccessTech(pub u8);

impl AccessTech {
    /// GSM.
    pub const GSM: AccessTech = AccessTech(0);
    /// UTRAN.
    pub const UTRAN: AccessTech = AccessTech(2);
    /// E-UTRAN.
    pub const E_UTRAN: AccessTech = AccessTech(7);
    /// NR connected to 5GCN.
    pub const NR_5GCN: AccessTech = AccessTech(11);

    /// The technology family; `None` for values 27.007 does not define.
    pub fn rat(self) -> Option<Rat> {
        match self.0 {
            // GSM, GSM Compact, GSM w/EGPRS, EC-GSM-IoT
            0 | 1 | 3 | 8 => Some(Rat::Gsm),
            // UTRAN, w/HSDPA, w/HSUPA, w/HSDPA and HSUPA
            2 | 4 | 5 | 6 => Some(Rat::Wcdma),
            // E-UTRAN, E-UTRAN (NB-S1), E-UTRA connected to 5GCN
            7 | 9 | 10 => Some(Rat::Lte),
            // NR connected to 5GCN, NG-RAN, E-UTRA-NR dual connectivity
            11..=13 => Some(Rat::Nr),
            _ => None,
        }
    }
}

/// `<stat>` of 27.007 §7.2, an open set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegStatus {
    /// 0: not registered, not searching.
    NotRegistered,
    /// 1: registered, home network.
    Home,
    /// 2: not registered, searching.
    Searching,
    /// 3: registration denied.
    Denied,
    /// 4: unknown (e.g. out of coverage).
    Unknown,
    /// 5: registered, roaming.
    Roaming,
    /// Any other value (SMS-only, emergency-only, … in later releases).
    Other(u8),
}

impl RegStatus {
    /// From the numeric `<stat>`.
    pub fn from_code(code: u8) -> RegStatus {
        match code {
            0 => RegStatus::NotRegistered,
            1 => RegStatus::Home,
            2 => RegStatus::Searching,
            3 => RegStatus::Denied,
            4 => RegStatus::Unknown,
            5 => RegStatus::Roaming,
            n => RegStatus::Other(n),
        }
    }

    /// Registered on a network (home, roaming, or the SMS-only / CSFB-not-preferred
    /// variants 6, 7, 9, 10), so the cell it reports is the serving cell.
    pub fn is_registered(self) -> bool {
        matches!(self, RegStatus::Home | RegStatus::Roaming | RegStatus::Other(6 | 7 | 9 | 10))
    }
}

/// A `+CREG` line: the answer to `AT+CREG?` or the unsolicited report `AT+CREG=2` enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration {
    /// `<n>`, the report mode; only in the answer to `AT+CREG?`.
    pub n: Option<u8>,
    /// Registration status.
    pub stat: RegStatus,
    /// Location area code (tracking area code on LTE).
    pub lac: Option<u32>,
    /// Cell identity.
    pub ci: Option<u32>,
    /// Access technology of the serving cell.
    pub act: Option<AccessTech>,
}

/// Parses `+CREG: <n>,<stat>[,[<lac>],[<ci>][,<AcT>…]]` (read answer) or
/// `+CREG: <stat>[,[<lac>],[<ci>][,<AcT>]]` (unsolicited), 27.007 §7.2.
///
/// The two are told apart by shape: the unsolicited form has one field, or a
/// quoted (or empty) second field; the answer has two plain numbers first.
pub fn parse_creg(line: &str) -> Result<Registration, ParseError> {
    let body = strip_prefix(line, "+CREG:").ok_or(ParseError { reason: "not a +CREG line" })?;
    let f = split_fields(body);
    let solicited = f.len() >= 2 && !is_quoted(f[1]) && !f[1].is_empty();
    let (n, rest) = if solicited { (Some(dec_req::<u8>(f[0], "bad <n>")?), &f[1..]) } else { (None, &f[..]) };
    let stat = RegStatus::from_code(dec_req::<u8>(rest.first().copied().unwrap_or(""), "bad <stat>")?);
    let lac = opt_hex::<u32>(rest.get(1).copied(), "bad <lac>")?;
    let ci = opt_hex::<u32>(rest.get(2).copied(), "bad <ci>")?;
    let act = opt_dec::<u8>(rest.get(3).copied(), "bad <AcT>")?.map(AccessTech);
    Ok(Registration { n, stat, lac, ci, act })
}

/// The operator name in one of the three `+COPS` formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorName {
    /// Format 0, long alphanumeric.
    Long(String),
    /// Format 1, short alphanumeric.
    Short(String),
    /// Format 2, numeric: MCC and MNC.
    Numeric {
        /// Mobile country code.
        mcc: u16,
        /// Mobile network code.
        mnc: u16,
        /// 2 or 3: `01` and `001` are different networks.
        mnc_digits: u8,
    },
}

/// The answer to `AT+COPS?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// `<mode>`: 0 automatic, 1 manual, 2 deregistered, 4 manual/automatic.
    pub mode: u8,
    /// The operator, absent when not registered.
    pub name: Option<OperatorName>,
    /// Access technology of the serving cell.
    pub act: Option<AccessTech>,
}

/// Parses `+COPS: <mode>[,<format>,<oper>[,<AcT>]]`, 27.007 §7.3.
pub fn parse_cops(line: &str) -> Result<Operator, ParseError> {
    let body = strip_prefix(line, "+COPS:").ok_or(ParseError { reason: "not a +COPS line" })?;
    let f = split_fields(body);
    let mode = dec_req::<u8>(f.first().copied().unwrap_or(""), "bad <mode>")?;
    let format = opt_dec::<u8>(f.get(1).copied(), "bad <format>")?;
    let oper = f.get(2).map(|s| unquote(s));
    let name = match (format, oper) {
        (_, None) | (None, _) => None,
        (Some(0), Some(s)) => Some(OperatorName::Long(s.to_string())),
        (Some(1), Some(s)) => Some(OperatorName::Short(s.to_string())),
        (Some(2), Some(s)) => Some(parse_plmn(s)?),
        (Some(_), Some(_)) => return err("unknown <format>"),
    };
    let act = opt_dec::<u8>(f.get(3).copied(), "bad <AcT>")?.map(AccessTech);
    Ok(Operator { mode, name, act })
}

/// `46000` → MCC 460, MNC 00; `310410` → MCC 310, MNC 410.
fn parse_plmn(s: &str) -> Result<OperatorName, ParseError> {
    if !(s.len() == 5 || s.len() == 6) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return err("numeric operator is not 5 or 6 digits");
    }
    // All ASCII digits: byte slicing is on char boundaries.
    let mcc = dec_req::<u16>(&s[..3], "bad MCC")?;
    let mnc = dec_req::<u16>(&s[3..], "bad MNC")?;
    Ok(OperatorName::Numeric { mcc, mnc, mnc_digits: (s.len() - 3) as u8 })
}

/// Parses `+CSQ: <rssi>,<ber>` (27.007 §8.5) to dBm; `None` for 99 (not known).
pub fn parse_csq(line: &str) -> Result<Option<i32>, ParseError> {
    let body = strip_prefix(line, "+CSQ:").ok_or(ParseError { reason: "not a +CSQ line" })?;
    let f = split_fields(body);
    let rssi = dec_req::<u16>(f.first().copied().unwrap_or(""), "bad <rssi>")?;
    match rssi {
        // 0: -113 dBm or less … 31: -51 dBm or more, 2 dB steps.
        0..=31 => Ok(Some(-113 + 2 * i32::from(rssi))),
        99 | 199 => Ok(None),
        // TD-SCDMA range: 100 is -116 dBm … 191 is -25 dBm.
        100..=191 => Ok(Some(i32::from(rssi) - 216)),
        _ => err("<rssi> out of range"),
    }
}

/// A cell as a modem's engineering mode describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CellInfo {
    /// Technology; `None` when the modem did not say.
    pub rat: Option<Rat>,
    /// Mobile country code.
    pub mcc: Option<u16>,
    /// Mobile network code.
    pub mnc: Option<u16>,
    /// LAC (GSM, WCDMA) or TAC (LTE, NR).
    pub area: Option<u32>,
    /// Cell identity (28 bits on LTE, 36 on NR).
    pub cell_id: Option<u64>,
    /// ARFCN, UARFCN, EARFCN or NR-ARFCN.
    pub channel: Option<u32>,
    /// BSIC, primary scrambling code or physical cell id.
    pub physical_id: Option<u32>,
    /// Signal strength, dBm: GSM RxLev, WCDMA RSCP, LTE RSSI (else RSRP), NR RSRP.
    pub signal_dbm: Option<i32>,
    /// Reference signal received power, dBm (LTE, NR).
    pub rsrp_dbm: Option<i32>,
}

/// [`OwnCell::rat`] when the modem did not say (a `+CREG` without `<AcT>`).
pub const UNKNOWN_RAT: &str = "unknown";

impl CellInfo {
    /// The event form ([`UNKNOWN_RAT`] without a technology).
    pub fn to_own_cell(&self) -> OwnCell {
        OwnCell {
            rat: self.rat.map_or(UNKNOWN_RAT, Rat::as_str).to_string(),
            mcc: self.mcc,
            mnc: self.mnc,
            lac: self.area,
            cell_id: self.cell_id,
            rssi_dbm: self.signal_dbm,
        }
    }
}

/// Parses one `+QENG:` line of `AT+QENG="servingcell"` (Quectel).
///
/// Returns `Ok(None)` for lines that name no serving cell: `"servingcell","SEARCH"`,
/// the state-only first line of an EN-DC answer, the `"NR5G-NSA"` secondary
/// leg, and technologies the probe does not describe (CDMA, HDR, TD-SCDMA).
/// Layouts, relative to the RAT tag `T` (index i):
///
/// - `"GSM"`: i+1 MCC, i+2 MNC, i+3 LAC (hex), i+4 cell id (hex), i+5 BSIC, i+6 ARFCN, i+7 band, i+8 RxLev
/// - `"WCDMA"`: i+1 MCC, i+2 MNC, i+3 LAC (hex), i+4 cell id (hex), i+5 UARFCN, i+6 PSC, i+7 RAC, i+8 RSCP
/// - `"LTE"`: i+1 FDD/TDD, i+2 MCC, i+3 MNC, i+4 cell id (hex), i+5 PCI, i+6 EARFCN, i+7 band,
///   i+8 UL bw, i+9 DL bw, i+10 TAC (hex), i+11 RSRP, i+12 RSRQ, i+13 RSSI
/// - `"NR5G-SA"`: i+1 duplex, i+2 MCC, i+3 MNC, i+4 cell id (hex), i+5 PCI, i+6 TAC (hex), i+7 ARFCN,
///   i+8 band, i+9 bandwidth, i+10 RSRP
pub fn parse_qeng_servingcell(line: &str) -> Result<Option<CellInfo>, ParseError> {
    let body = strip_prefix(line, "+QENG:").ok_or(ParseError { reason: "not a +QENG line" })?;
    let f = split_fields(body);
    if f.first().is_some_and(|s| unquote(s).starts_with("neighbourcell")) {
        return err("a neighbourcell line, not servingcell");
    }
    let Some(i) = f.iter().position(|s| is_qeng_rat_tag(unquote(s))) else {
        return Ok(None);
    };
    let at = |k: usize| f.get(i + k).copied();
    let need = |k: usize| at(k).ok_or(ParseError { reason: "servingcell line too short for its RAT" });
    let cell = match unquote(f[i]) {
        "GSM" => {
            need(4)?;
            CellInfo {
                rat: Some(Rat::Gsm),
                mcc: opt_dec(at(1), "bad MCC")?,
                mnc: opt_dec(at(2), "bad MNC")?,
                area: opt_hex(at(3), "bad LAC")?,
                cell_id: opt_hex(at(4), "bad cell id")?,
                physical_id: opt_dec(at(5), "bad BSIC")?,
                channel: opt_dec(at(6), "bad ARFCN")?,
                signal_dbm: opt_int(at(8), "bad RxLev")?.map(rxlev_dbm),
                rsrp_dbm: None,
            }
        }
        "WCDMA" => {
            need(4)?;
            CellInfo {
                rat: Some(Rat::Wcdma),
                mcc: opt_dec(at(1), "bad MCC")?,
                mnc: opt_dec(at(2), "bad MNC")?,
                area: opt_hex(at(3), "bad LAC")?,
                cell_id: opt_hex(at(4), "bad cell id")?,
                channel: opt_dec(at(5), "bad UARFCN")?,
                physical_id: opt_dec(at(6), "bad PSC")?,
                signal_dbm: opt_int(at(8), "bad RSCP")?,
                rsrp_dbm: None,
            }
        }
        "LTE" => {
            need(4)?;
            let rsrp = opt_int(at(11), "bad RSRP")?;
            let rssi = opt_int(at(13), "bad RSSI")?;
            CellInfo {
                rat: Some(Rat::Lte),
                mcc: opt_dec(at(2), "bad MCC")?,
                mnc: opt_dec(at(3), "bad MNC")?,
                cell_id: opt_hex(at(4), "bad cell id")?,
                physical_id: opt_dec(at(5), "bad PCI")?,
                channel: opt_dec(at(6), "bad EARFCN")?,
                area: opt_hex(at(10), "bad TAC")?,
                signal_dbm: rssi.or(rsrp),
                rsrp_dbm: rsrp,
            }
        }
        "NR5G-SA" => {
            need(4)?;
            let rsrp = opt_int(at(10), "bad RSRP")?;
            CellInfo {
                rat: Some(Rat::Nr),
                mcc: opt_dec(at(2), "bad MCC")?,
                mnc: opt_dec(at(3), "bad MNC")?,
                cell_id: opt_hex(at(4), "bad cell id")?,
                physical_id: opt_dec(at(5), "bad PCI")?,
                area: opt_hex(at(6), "bad TAC")?,
                channel: opt_dec(at(7), "bad ARFCN")?,
                signal_dbm: rsrp,
                rsrp_dbm: rsrp,
            }
        }
        // "NR5G-NSA" (secondary leg, no cell identity), "CDMA", "HDR", "TDSCDMA".
        _ => return Ok(None),
    };
    Ok(Some(cell))
}

fn is_qeng_rat_tag(s: &str) -> bool {
    matches!(s, "GSM" | "WCDMA" | "LTE" | "NR5G-SA" | "NR5G-NSA" | "TDSCDMA" | "CDMA" | "HDR")
}

/// Whether a neighbour is on the serving cell's frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// `"neighbourcell intra"`: same frequency.
    Intra,
    /// `"neighbourcell inter"`: another frequency.
    Inter,
    /// `"neighbourcell"`: another technology, or not said.
    Unspecified,
}

/// A neighbour cell from `AT+QENG="neighbourcell"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighbourCell {
    /// Same or other frequency.
    pub relation: Relation,
    /// What is known of the cell.
    pub cell: CellInfo,
}

/// Parses one `+QENG: "neighbourcell…"` line (Quectel).
///
/// Layouts, relative to the RAT tag at index i:
///
/// - `"LTE"` (intra and inter): i+1 EARFCN, i+2 PCI, i+3 RSRQ, i+4 RSRP, i+5 RSSI
/// - `"WCDMA"`: i+1 UARFCN, i+2 reselection priority, i+3 thresh high, i+4 thresh low, i+5 PSC, i+6 RSCP
/// - `"GSM"` with a GSM serving cell (11 fields after the tag): i+1 MCC, i+2 MNC,
///   i+3 LAC (hex), i+4 cell id (hex), i+5 BSIC, i+6 ARFCN, i+7 RxLev
/// - `"GSM"` with an LTE serving cell (fewer fields): i+1 ARFCN, i+2 priority,
///   i+3 thresh high, i+4 thresh low, i+5 NCC permitted, i+6 band, i+7 BSIC, i+8 RSSI
///
/// `Ok(None)` for other technologies.
pub fn parse_qeng_neighbour(line: &str) -> Result<Option<NeighbourCell>, ParseError> {
    let body = strip_prefix(line, "+QENG:").ok_or(ParseError { reason: "not a +QENG line" })?;
    let f = split_fields(body);
    let relation = match f.first().map(|s| unquote(s)) {
        Some("neighbourcell intra") => Relation::Intra,
        Some("neighbourcell inter") => Relation::Inter,
        Some("neighbourcell") => Relation::Unspecified,
        _ => return err("not a neighbourcell line"),
    };
    let Some(tag) = f.get(1).map(|s| unquote(s)) else { return err("neighbourcell line without a RAT") };
    let at = |k: usize| f.get(1 + k).copied();
    let need = |k: usize| at(k).ok_or(ParseError { reason: "neighbourcell line too short for its RAT" });
    let cell = match tag {
        "LTE" => {
            need(2)?;
            let rsrp = opt_int(at(4), "bad RSRP")?;
            CellInfo {
                rat: Some(Rat::Lte),
                channel: opt_dec(at(1), "bad EARFCN")?,
                physical_id: opt_dec(at(2), "bad PCI")?,
                signal_dbm: rsrp,
                rsrp_dbm: rsrp,
                ..CellInfo::default()
            }
        }
        "WCDMA" => {
            need(5)?;
            CellInfo {
                rat: Some(Rat::Wcdma),
                channel: opt_dec(at(1), "bad UARFCN")?,
                physical_id: opt_dec(at(5), "bad PSC")?,
                signal_dbm: opt_int(at(6), "bad RSCP")?,
                ..CellInfo::default()
            }
        }
        "GSM" if f.len() >= 1 + 1 + 11 => CellInfo {
            rat: Some(Rat::Gsm),
            mcc: opt_dec(at(1), "bad MCC")?,
            mnc: opt_dec(at(2), "bad MNC")?,
            area: opt_hex(at(3), "bad LAC")?,
            cell_id: opt_hex(at(4), "bad cell id")?,
            physical_id: opt_dec(at(5), "bad BSIC")?,
            channel: opt_dec(at(6), "bad ARFCN")?,
            signal_dbm: opt_int(at(7), "bad RxLev")?.map(rxlev_dbm),
            ..CellInfo::default()
        },
        "GSM" => {
            need(1)?;
            CellInfo {
                rat: Some(Rat::Gsm),
                channel: opt_dec(at(1), "bad ARFCN")?,
                physical_id: opt_dec(at(7), "bad BSIC")?,
                signal_dbm: opt_int(at(8), "bad RSSI")?,
                ..CellInfo::default()
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(NeighbourCell { relation, cell }))
}

/// Parses `+CPSI: <system mode>,<operation mode>,<MCC>-<MNC>,…` (SIMCom).
///
/// `Ok(None)` when the modem has no service (`NO SERVICE`). Layouts after
/// the first three fields (index 0 system mode, 1 operation mode, 2 MCC-MNC):
///
/// - `GSM`: 3 LAC (hex, `0x…`), 4 cell id, 5 ARFCN (with band text), 6 RxLev dBm
/// - `WCDMA`: 3 LAC, 4 cell id, 5 band, 6 PSC, 7 UARFCN, 8 SSC, 9 Ec/Io, 10 RSCP
/// - `LTE`: 3 TAC, 4 cell id, 5 PCI, 6 band, 7 EARFCN, 8 DL bw, 9 UL bw, 10 RSRQ, 11 RSRP, 12 RSSI
/// - `NR5G_SA`: 3 TAC, 4 cell id, 5 PCI, 6 band, 7 ARFCN, 8 RSRP
///
/// Cell ids are decimal (a `0x` prefix is honoured). SIM7600 firmware gives
/// RSRQ/RSRP/RSSI in tenths of a dB (`-850` is -85.0 dBm) where others give
/// whole dBm: magnitudes of 200 and more are read as tenths. RSCP printed as
/// a positive magnitude is negated.
pub fn parse_cpsi(line: &str) -> Result<Option<CellInfo>, ParseError> {
    let body = strip_prefix(line, "+CPSI:").ok_or(ParseError { reason: "not a +CPSI line" })?;
    let f = split_fields(body);
    let mode = f.first().map(|s| unquote(s)).unwrap_or("");
    let rat = match mode {
        "GSM" => Rat::Gsm,
        "WCDMA" => Rat::Wcdma,
        // SIM7000 adds the flavour: "LTE CAT-M1", "LTE NB-IOT"; same layout.
        m if m.starts_with("LTE") => Rat::Lte,
        "NR5G_SA" => Rat::Nr,
        "NO SERVICE" => return Ok(None),
        "" => return err("+CPSI without a system mode"),
        // CDMA, EVDO, TDS, HDR, NR5G_NSA: not described here.
        _ => return Ok(None),
    };
    if f.len() < 5 {
        return err("+CPSI line too short for its system mode");
    }
    let (mcc, mnc) = parse_mcc_mnc(unquote(f[2]))?;
    let at = |k: usize| f.get(k).copied();
    let area = opt_hex::<u32>(at(3), "bad LAC/TAC")?;
    let cell_id = opt_dec_or_hex::<u64>(at(4), "bad cell id")?;
    let base = CellInfo { rat: Some(rat), mcc, mnc, area, cell_id, ..CellInfo::default() };
    let cell = match rat {
        Rat::Gsm => CellInfo {
            // "27 EGSM 900": the channel number leads.
            channel: opt_dec(at(5).map(|s| s.split(' ').next().unwrap_or("")), "bad ARFCN")?,
            signal_dbm: opt_int(at(6), "bad RxLev")?,
            ..base
        },
        Rat::Wcdma => CellInfo {
            physical_id: opt_dec(at(6), "bad PSC")?,
            channel: opt_dec(at(7), "bad UARFCN")?,
            signal_dbm: opt_int(at(10), "bad RSCP")?.map(|v| if v > 0 { -v } else { v }),
            ..base
        },
        Rat::Lte => {
            let rsrp = opt_int(at(11), "bad RSRP")?.map(tenths_dbm);
            let rssi = opt_int(at(12), "bad RSSI")?.map(tenths_dbm);
            CellInfo {
                physical_id: opt_dec(at(5), "bad PCI")?,
                channel: opt_dec(at(7), "bad EARFCN")?,
                signal_dbm: rssi.or(rsrp),
                rsrp_dbm: rsrp,
                ..base
            }
        }
        Rat::Nr => {
            let rsrp = opt_int(at(8), "bad RSRP")?.map(tenths_dbm);
            CellInfo {
                physical_id: opt_dec(at(5), "bad PCI")?,
                channel: opt_dec(at(7), "bad ARFCN")?,
                signal_dbm: rsrp,
                rsrp_dbm: rsrp,
                ..base
            }
        }
    };
    Ok(Some(cell))
}

/// `460-00` → (460, 0).
fn parse_mcc_mnc(s: &str) -> Result<(Option<u16>, Option<u16>), ParseError> {
    let Some((mcc, mnc)) = s.split_once('-') else { return err("MCC-MNC without a dash") };
    Ok((opt_dec(Some(mcc), "bad MCC")?, opt_dec(Some(mnc), "bad MNC")?))
}

/// Quectel prints GSM RxLev in dBm; a value in the 0..=63 RXLEV scale
/// (3GPP TS 45.008 §8.1.4: 0 is below -110 dBm) is converted.
fn rxlev_dbm(v: i32) -> i32 {
    if (1..=63).contains(&v) {
        v - 110
    } else {
        v
    }
}

fn tenths_dbm(v: i32) -> i32 {
    if v.abs() >= 200 {
        v.div_euclid(10)
    } else {
        v
    }
}

/// A final result code ending a command (ITU-T V.250 §5.7, 27.007 §9.2, 27.005 §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    /// `OK`.
    Ok,
    /// `ERROR`, `+CME ERROR: …` or `+CMS ERROR: …`.
    Error {
        /// The line as sent, e.g. `+CME ERROR: 10` or `+CME ERROR: SIM not inserted`.
        message: String,
        /// The number after `+CME ERROR:` / `+CMS ERROR:` when numeric (`AT+CMEE=1`).
        code: Option<u16>,
    },
}

/// `Some` when `line` ends a command.
pub fn parse_final(line: &str) -> Option<Final> {
    let line = line.trim();
    if line == "OK" {
        return Some(Final::Ok);
    }
    if line == "ERROR" {
        return Some(Final::Error { message: line.to_string(), code: None });
    }
    let rest = strip_prefix(line, "+CME ERROR:").or_else(|| strip_prefix(line, "+CMS ERROR:"))?;
    Some(Final::Error { message: line.to_string(), code: rest.trim().parse().ok() })
}

/// An unsolicited result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urc {
    /// `+CREG: <stat>[,<lac>,<ci>[,<AcT>]]`.
    Registration(Registration),
    /// `RING` or `+CRING: …`: an incoming call.
    Ring,
    /// `+CMTI: <mem>,<index>`: an SMS was stored.
    NewMessage {
        /// Storage (`"SM"`, `"ME"`).
        storage: String,
        /// Index in that storage.
        index: u32,
    },
    /// Anything else recognised as unsolicited, as sent.
    Other(String),
}

/// Lines that are always unsolicited (no command the probe sends answers with them).
pub const BARE_URCS: &[&str] =
    &["RING", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "RDY", "SMS DONE", "PB DONE", "POWERED DOWN"];

/// The `+NAME` of a command (`AT+CREG?` → `+CREG`); `None` for basic commands (`ATI`, `ATE0`).
pub fn command_name(command: &str) -> Option<&str> {
    let rest = strip_prefix(command.trim(), "AT")?;
    let first = rest.chars().next()?;
    if !matches!(first, '+' | '*' | '^' | '$') {
        return None;
    }
    let end = rest
        .char_indices()
        .skip(1)
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    rest.get(..end)
}

/// Classifies a line received while `command` is in flight (or with none, `None`):
/// `Some` if it is unsolicited rather than part of the answer.
///
/// Rule: a bare code from [`BARE_URCS`], or a `+NAME: …` line whose name is
/// not the command's own (information responses carry the command's name,
/// 27.007 §4.1). A `+CREG:` line during `AT+CREG?` is the answer.
pub fn classify_unsolicited(line: &str, command: Option<&str>) -> Option<Urc> {
    let line = line.trim();
    if BARE_URCS.contains(&line) {
        return Some(if line == "RING" { Urc::Ring } else { Urc::Other(line.to_string()) });
    }
    let name = line_name(line)?;
    if command.and_then(command_name).is_some_and(|c| c.eq_ignore_ascii_case(name)) {
        return None;
    }
    Some(match name {
        "+CREG" => match parse_creg(line) {
            Ok(r) => Urc::Registration(r),
            Err(_) => Urc::Other(line.to_string()),
        },
        "+CRING" => Urc::Ring,
        "+CMTI" => parse_cmti(line).unwrap_or_else(|| Urc::Other(line.to_string())),
        _ => Urc::Other(line.to_string()),
    })
}

/// `+NAME` of a `+NAME: …` line (also `*NAME:`, `^NAME:`).
fn line_name(line: &str) -> Option<&str> {
    let first = line.chars().next()?;
    if !matches!(first, '+' | '*' | '^' | '$') {
        return None;
    }
    let (name, _) = line.split_once(':')?;
    if name.len() < 2 || !name.chars().skip(1).all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some(name)
}

fn parse_cmti(line: &str) -> Option<Urc> {
    let f = split_fields(strip_prefix(line, "+CMTI:")?);
    let storage = unquote(f.first()?).to_string();
    let index = f.get(1)?.trim().parse().ok()?;
    Some(Urc::NewMessage { storage, index })
}

/// Modem makers the probe knows engineering commands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vendor {
    /// Quectel (EC2x, EG9x, BG9x, RG50x, M95, …): `AT+QENG`.
    Quectel,
    /// SIMCom (SIM7x00, SIM8200, SIM800, …): `AT+CPSI?`.
    Simcom,
    /// Anyone else: 27.007 commands only.
    Other,
}

/// The maker named in `ATI` or `AT+CGMI` answer lines.
///
/// Quectel answers `Quectel`; SIMCom `SIMCOM_Ltd`, `Manufacturer: SIMCOM
/// INCORPORATED`, or (SIM800 `ATI`) just the model, `SIM800 R14.18`.
pub fn detect_vendor<S: AsRef<str>>(lines: &[S]) -> Vendor {
    for line in lines {
        let lower = line.as_ref().to_ascii_lowercase();
        if lower.contains("quectel") {
            return Vendor::Quectel;
        }
        if lower.contains("simcom") {
            return Vendor::Simcom;
        }
        let mut chars = lower.chars();
        if lower.starts_with("sim") && chars.nth(3).is_some_and(|c| c.is_ascii_digit()) {
            return Vendor::Simcom;
        }
    }
    Vendor::Other
}

// --- field helpers -------------------------------------------------------

/// `line` after `prefix` (compared without regard to ASCII case), trimmed.
fn strip_prefix<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    line.get(prefix.len()..).map(str::trim)
}

/// Splits on commas outside double quotes; fields trimmed, quotes kept.
fn split_fields(s: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                fields.push(s.get(start..i).unwrap_or("").trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = s.get(start..).unwrap_or("").trim();
    if !(last.is_empty() && fields.is_empty()) {
        fields.push(last);
    }
    fields
}

fn is_quoted(s: &str) -> bool {
    s.len() >= 2 && s.starts_with('"') && s.ends_with('"')
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    if is_quoted(s) {
        s.get(1..s.len() - 1).unwrap_or("").trim()
    } else {
        s
    }
}

/// Absent, empty or `-`.
fn is_blank(s: &str) -> bool {
    matches!(s, "" | "-" | "--")
}

fn dec_req<T: std::str::FromStr>(s: &str, reason: &'static str) -> Result<T, ParseError> {
    let s = unquote(s);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return err(reason);
    }
    s.parse().map_err(|_| ParseError { reason })
}

fn opt_dec<T: std::str::FromStr>(s: Option<&str>, reason: &'static str) -> Result<Option<T>, ParseError> {
    match s.map(unquote) {
        None => Ok(None),
        Some(v) if is_blank(v) => Ok(None),
        Some(v) => dec_req(v, reason).map(Some),
    }
}

fn opt_int(s: Option<&str>, reason: &'static str) -> Result<Option<i32>, ParseError> {
    match s.map(unquote) {
        None => Ok(None),
        Some(v) if is_blank(v) => Ok(None),
        Some(v) => {
            let digits = v.strip_prefix('-').or_else(|| v.strip_prefix('+')).unwrap_or(v);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return err(reason);
            }
            v.parse().map(Some).map_err(|_| ParseError { reason })
        }
    }
}

trait FromRadix: Sized {
    fn from_radix(s: &str, radix: u32) -> Option<Self>;
}

impl FromRadix for u32 {
    fn from_radix(s: &str, radix: u32) -> Option<Self> {
        u32::from_str_radix(s, radix).ok()
    }
}

impl FromRadix for u64 {
    fn from_radix(s: &str, radix: u32) -> Option<Self> {
        u64::from_str_radix(s, radix).ok()
    }
}

fn strip_0x(s: &str) -> Option<&str> {
    s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))
}

/// Hexadecimal, with or without `0x`.
fn opt_hex<T: FromRadix>(s: Option<&str>, reason: &'static str) -> Result<Option<T>, ParseError> {
    match s.map(unquote) {
        None => Ok(None),
        Some(v) if is_blank(v) => Ok(None),
        Some(v) => {
            let digits = strip_0x(v).unwrap_or(v);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return err(reason);
            }
            T::from_radix(digits, 16).map(Some).ok_or(ParseError { reason })
        }
    }
}

/// Decimal, or hexadecimal with `0x`.
fn opt_dec_or_hex<T: FromRadix>(s: Option<&str>, reason: &'static str) -> Result<Option<T>, ParseError> {
    match s.map(unquote) {
        Some(v) if strip_0x(v).is_some() => opt_hex(Some(v), reason),
        None => Ok(None),
        Some(v) if is_blank(v) => Ok(None),
        Some(v) => {
            if !v.bytes().all(|b| b.is_ascii_digit()) {
                return err(reason);
            }
            T::from_radix(v, 10).map(Some).ok_or(ParseError { reason })
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn reg(n: Option<u8>, stat: u8, lac: Option<u32>, ci: Option<u32>, act: Option<u8>) -> Registration {
        Registration { n, stat: RegStatus::from_code(stat), lac, ci, act: act.map(AccessTech) }
    }

    #[test]
    fn creg_table() {
        let table: &[(&str, Registration)] = &[
            ("+CREG: 0,1", reg(Some(0), 1, None, None, None)),
            ("+CREG: 2,1,\"1A2B\",\"01C3D4E5\",7", reg(Some(2), 1, Some(0x1A2B), Some(0x01C3D4E5), Some(7))),
            ("+CREG: 2,5,\"550A\",\"2BC6\",0", reg(Some(2), 5, Some(0x550A), Some(0x2BC6), Some(0))),
            ("+CREG: 2,1,\"550A\",\"2BC6\"", reg(Some(2), 1, Some(0x550A), Some(0x2BC6), None)),
            ("+CREG: 2,2", reg(Some(2), 2, None, None, None)),
            ("+CREG: 2,0,,", reg(Some(2), 0, None, None, None)),
            ("+CREG: 1", reg(None, 1, None, None, None)),
            ("+CREG: 1,\"1A2B\",\"01C3D4E5\",7", reg(None, 1, Some(0x1A2B), Some(0x01C3D4E5), Some(7))),
            ("+CREG: 5,\"00C3\",\"0000A1B2\",2", reg(None, 5, Some(0xC3), Some(0xA1B2), Some(2))),
            ("+creg: 3", reg(None, 3, None, None, None)),
            ("+CREG:1,\"fffe\",\"0c1d2e3f\",9", reg(None, 1, Some(0xFFFE), Some(0x0C1D2E3F), Some(9))),
        ];
        for (line, want) in table {
            assert_eq!(parse_creg(line).as_ref(), Ok(want), "{line}");
        }
    }

    #[test]
    fn creg_rejects() {
        for line in
            ["+CREG:", "+CREG: x", "+CREG: 2,1,\"GGGG\",\"1\"", "+CREG: 1,\"1\",\"1FFFFFFFF\"", "+CGREG: 1", "OK"]
        {
            assert!(parse_creg(line).is_err(), "{line}");
        }
    }

    #[test]
    fn reg_status() {
        assert!(RegStatus::from_code(1).is_registered());
        assert!(RegStatus::from_code(5).is_registered());
        assert!(!RegStatus::from_code(2).is_registered());
        assert_eq!(RegStatus::from_code(42), RegStatus::Other(42));
    }

    #[test]
    fn access_tech_families() {
        let table = [
            (0, Some(Rat::Gsm)),
            (3, Some(Rat::Gsm)),
            (2, Some(Rat::Wcdma)),
            (6, Some(Rat::Wcdma)),
            (7, Some(Rat::Lte)),
            (9, Some(Rat::Lte)),
            (11, Some(Rat::Nr)),
            (12, Some(Rat::Nr)),
            (99, None),
        ];
        for (code, rat) in table {
            assert_eq!(AccessTech(code).rat(), rat, "{code}");
        }
    }

    #[test]
    fn cops_table() {
        let numeric = |mcc, mnc, mnc_digits| Some(OperatorName::Numeric { mcc, mnc, mnc_digits });
        let table: &[(&str, Operator)] = &[
            ("+COPS: 0,2,\"46000\",7", Operator { mode: 0, name: numeric(460, 0, 2), act: Some(AccessTech(7)) }),
            ("+COPS: 0,2,\"310410\",2", Operator { mode: 0, name: numeric(310, 410, 3), act: Some(AccessTech(2)) }),
            (
                "+COPS: 0,0,\"CHINA MOBILE\",7",
                Operator { mode: 0, name: Some(OperatorName::Long("CHINA MOBILE".into())), act: Some(AccessTech(7)) },
            ),
            ("+COPS: 1,1,\"CMCC\"", Operator { mode: 1, name: Some(OperatorName::Short("CMCC".into())), act: None }),
            (
                "+COPS: 0,0,\"T-Mobile, US\",7",
                Operator { mode: 0, name: Some(OperatorName::Long("T-Mobile, US".into())), act: Some(AccessTech(7)) },
            ),
            ("+COPS: 0", Operator { mode: 0, name: None, act: None }),
            ("+COPS: 2", Operator { mode: 2, name: None, act: None }),
        ];
        for (line, want) in table {
            assert_eq!(parse_cops(line).as_ref(), Ok(want), "{line}");
        }
        for line in ["+COPS: 0,2,\"4600\",7", "+COPS: 0,2,\"46A00\"", "+COPS: 0,5,\"x\"", "+COPS:", "+COPS: a"] {
            assert!(parse_cops(line).is_err(), "{line}");
        }
    }

    #[test]
    fn csq_table() {
        let table = [
            ("+CSQ: 0,99", Some(-113)),
            ("+CSQ: 1,99", Some(-111)),
            ("+CSQ: 20,0", Some(-73)),
            ("+CSQ: 31,99", Some(-51)),
            ("+CSQ: 99,99", None),
            ("+CSQ: 100,99", Some(-116)),
            ("+CSQ: 191,99", Some(-25)),
        ];
        for (line, want) in table {
            assert_eq!(parse_csq(line), Ok(want), "{line}");
        }
        assert!(parse_csq("+CSQ: 50,99").is_err());
        assert!(parse_csq("+CSQ: ,").is_err());
    }

    fn cell(rat: Rat) -> CellInfo {
        CellInfo { rat: Some(rat), ..CellInfo::default() }
    }

    #[test]
    fn qeng_servingcell_by_rat_tag() {
        let table: &[(&str, Option<CellInfo>)] = &[
            (
                // EC25 on LTE FDD.
                "+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",460,00,1A2D001,12,100,1,5,5,DE10,-88,-9,-60,16,44",
                Some(CellInfo {
                    mcc: Some(460),
                    mnc: Some(0),
                    area: Some(0xDE10),
                    cell_id: Some(0x1A2D001),
                    channel: Some(100),
                    physical_id: Some(12),
                    signal_dbm: Some(-60),
                    rsrp_dbm: Some(-88),
                    ..cell(Rat::Lte)
                }),
            ),
            (
                // Connected, TDD, RSSI not reported.
                "+QENG: \"servingcell\",\"CONNECT\",\"LTE\",\"TDD\",460,01,5F1EA15,301,38950,41,5,5,28A1,-97,-11,-,12,30",
                Some(CellInfo {
                    mcc: Some(460),
                    mnc: Some(1),
                    area: Some(0x28A1),
                    cell_id: Some(0x5F1EA15),
                    channel: Some(38950),
                    physical_id: Some(301),
                    signal_dbm: Some(-97),
                    rsrp_dbm: Some(-97),
                    ..cell(Rat::Lte)
                }),
            ),
            (
                "+QENG: \"servingcell\",\"NOCONN\",\"GSM\",460,00,550A,2BC6,22,46,0,-65,255,255,0,38,38,1,-,-,-,-,-,-,-,-,-,\"-\"",
                Some(CellInfo {
                    mcc: Some(460),
                    mnc: Some(0),
                    area: Some(0x550A),
                    cell_id: Some(0x2BC6),
                    channel: Some(46),
                    physical_id: Some(22),
                    signal_dbm: Some(-65),
                    ..cell(Rat::Gsm)
                }),
            ),
            (
                "+QENG: \"servingcell\",\"LIMSRV\",\"WCDMA\",460,01,A50C,5A35E3B,10713,291,2,-87,-4,-,-,-,-,-",
                Some(CellInfo {
                    mcc: Some(460),
                    mnc: Some(1),
                    area: Some(0xA50C),
                    cell_id: Some(0x5A35E3B),
                    channel: Some(10713),
                    physical_id: Some(291),
                    signal_dbm: Some(-87),
                    ..cell(Rat::Wcdma)
                }),
            ),
            (
                // RG500Q on NR SA: 36-bit cell id.
                "+QENG: \"servingcell\",\"NOCONN\",\"NR5G-SA\",\"TDD\",460,00,6F4700B06,524,6F4700,627264,78,12,-74,-11,16,1,-",
                Some(CellInfo {
                    mcc: Some(460),
                    mnc: Some(0),
                    area: Some(0x6F4700),
                    cell_id: Some(0x6F4700B06),
                    channel: Some(627264),
                    physical_id: Some(524),
                    signal_dbm: Some(-74),
                    rsrp_dbm: Some(-74),
                    ..cell(Rat::Nr)
                }),
            ),
            (
                // EN-DC answer: the LTE anchor line has no "servingcell" field.
                "+QENG: \"LTE\",\"FDD\",460,00,1A2D001,12,1300,3,5,5,DE10,-88,-9,-60,16,44,-",
                Some(CellInfo {
                    mcc: Some(460),
                    mnc: Some(0),
                    area: Some(0xDE10),
                    cell_id: Some(0x1A2D001),
                    channel: Some(1300),
                    physical_id: Some(12),
                    signal_dbm: Some(-60),
                    rsrp_dbm: Some(-88),
                    ..cell(Rat::Lte)
                }),
            ),
            ("+QENG: \"servingcell\",\"SEARCH\"", None),
            ("+QENG: \"servingcell\",\"NOCONN\"", None),
            ("+QENG:\"NR5G-NSA\",460,00,524,-74,16,-11,627264,78,12,1", None),
            ("+QENG: \"servingcell\",\"NOCONN\",\"CDMA\",460,03,1,2,3", None),
        ];
        for (line, want) in table {
            assert_eq!(parse_qeng_servingcell(line).as_ref(), Ok(want), "{line}");
        }
    }

    #[test]
    fn qeng_servingcell_rejects() {
        for line in [
            "+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",460",
            "+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",460,00,XYZ,12",
            "+QENG: \"servingcell\",\"NOCONN\",\"GSM\",99999,00,550A,2BC6",
            "+QENG: \"neighbourcell intra\",\"LTE\",100,12,-9,-88,-60,16,44,7,62,6,62",
            "+CPSI: LTE,Online",
        ] {
            assert!(parse_qeng_servingcell(line).is_err(), "{line}");
        }
    }

    #[test]
    fn qeng_neighbours() {
        let table: &[(&str, Option<NeighbourCell>)] = &[
            (
                "+QENG: \"neighbourcell intra\",\"LTE\",100,12,-9,-88,-60,16,44,7,62,6,62",
                Some(NeighbourCell {
                    relation: Relation::Intra,
                    cell: CellInfo {
                        channel: Some(100),
                        physical_id: Some(12),
                        signal_dbm: Some(-88),
                        rsrp_dbm: Some(-88),
                        ..cell(Rat::Lte)
                    },
                }),
            ),
            (
                "+QENG: \"neighbourcell inter\",\"LTE\",1825,371,-12,-102,-75,4,20,5,10,12",
                Some(NeighbourCell {
                    relation: Relation::Inter,
                    cell: CellInfo {
                        channel: Some(1825),
                        physical_id: Some(371),
                        signal_dbm: Some(-102),
                        rsrp_dbm: Some(-102),
                        ..cell(Rat::Lte)
                    },
                }),
            ),
            (
                "+QENG: \"neighbourcell\",\"WCDMA\",10713,3,16,6,291,-95,-8,20",
                Some(NeighbourCell {
                    relation: Relation::Unspecified,
                    cell: CellInfo {
                        channel: Some(10713),
                        physical_id: Some(291),
                        signal_dbm: Some(-95),
                        ..cell(Rat::Wcdma)
                    },
                }),
            ),
            (
                // GSM neighbour of a GSM serving cell: full identity.
                "+QENG: \"neighbourcell\",\"GSM\",460,00,550A,2BC7,35,60,-72,30,30,0,0",
                Some(NeighbourCell {
                    relation: Relation::Unspecified,
                    cell: CellInfo {
                        mcc: Some(460),
                        mnc: Some(0),
                        area: Some(0x550A),
                        cell_id: Some(0x2BC7),
                        physical_id: Some(35),
                        channel: Some(60),
                        signal_dbm: Some(-72),
                        ..cell(Rat::Gsm)
                    },
                }),
            ),
            (
                // GSM neighbour of an LTE serving cell: channel and power only.
                "+QENG: \"neighbourcell\",\"GSM\",46,2,10,4,255,0,22,-80,30",
                Some(NeighbourCell {
                    relation: Relation::Unspecified,
                    cell: CellInfo {
                        channel: Some(46),
                        physical_id: Some(22),
                        signal_dbm: Some(-80),
                        ..cell(Rat::Gsm)
                    },
                }),
            ),
            ("+QENG: \"neighbourcell\",\"CDMA\",1,2,3", None),
        ];
        for (line, want) in table {
            assert_eq!(parse_qeng_neighbour(line).as_ref(), Ok(want), "{line}");
        }
        for line in
            ["+QENG: \"servingcell\",\"SEARCH\"", "+QENG: \"neighbourcell\"", "+QENG: \"neighbourcell\",\"LTE\",x,1"]
        {
            assert!(parse_qeng_neighbour(line).is_err(), "{line}");
        }
    }

    #[test]
    fn cpsi_table() {
        let table: &[(&str, Option<CellInfo>)] = &[
            (
                "+CPSI: GSM,Online,460-00,0x1234,5678,27 EGSM 900,-64,2110,42-42",
                Some(CellInfo {
                    mcc: Some(460),
                    mnc: Some(0),
                    area: Some(0x1234),
                    cell_id: Some(5678),
                    channel: Some(27),
                    signal_dbm: Some(-64),
                    ..cell(Rat::Gsm)
                }),
            ),
            (
                "+CPSI: LTE,Online,460-00,0x1234,26470016,256,EUTRAN-BAND3,1300,5,5,-94,-850,-545,15",
                Some(CellInfo {
                    mcc: Some(460),
                    mnc: Some(0),
                    area: Some(0x1234),
                    cell_id: Some(26_470_016),
                    channel: Some(1300),
                    physical_id: Some(256),
                    signal_dbm: Some(-55),
                    rsrp_dbm: Some(-85),
                    ..cell(Rat::Lte)
                }),
            ),
            (
                // Firmware that prints whole dBm.
                "+CPSI: LTE,Online,310-410,0x2A1F,0x1A2D001,101,EUTRAN-BAND2,900,5,5,-10,-97,-68,12",
                Some(CellInfo {
                    mcc: Some(310),
                    mnc: Some(410),
                    area: Some(0x2A1F),
                    cell_id: Some(0x1A2D001),
                    channel: Some(900),
                    physical_id: Some(101),
                    signal_dbm: Some(-68),
                    rsrp_dbm: Some(-97),
                    ..cell(Rat::Lte)
                }),
            ),
            (
                "+CPSI: WCDMA,Online,001-01,0xFFFF,0,WCDMA IMT 2000,0,10713,0,4.5,101,29,43,500",
                Some(CellInfo {
                    mcc: Some(1),
                    mnc: Some(1),
                    area: Some(0xFFFF),
                    cell_id: Some(0),
                    channel: Some(10713),
                    physical_id: Some(0),
                    signal_dbm: Some(-101),
                    ..cell(Rat::Wcdma)
                }),
            ),
            (
                "+CPSI: NR5G_SA,Online,460-01,0x6F4700,29869309958,524,NR5G_BAND78,627264,-740,-110,160",
                Some(CellInfo {
                    mcc: Some(460),
                    mnc: Some(1),
                    area: Some(0x6F4700),
                    cell_id: Some(29_869_309_958),
                    channel: Some(627264),
                    physical_id: Some(524),
                    signal_dbm: Some(-74),
                    rsrp_dbm: Some(-74),
                    ..cell(Rat::Nr)
                }),
            ),
            (
                "+CPSI: LTE CAT-M1,Online,460-00,0x1816,190120193,285,EUTRAN-BAND8,3740,3,3,-12,-92,-62,16",
                Some(CellInfo {
                    mcc: Some(460),
                    mnc: Some(0),
                    area: Some(0x1816),
                    cell_id: Some(190_120_193),
                    channel: Some(3740),
                    physical_id: Some(285),
                    signal_dbm: Some(-62),
                    rsrp_dbm: Some(-92),
                    ..cell(Rat::Lte)
                }),
            ),
            ("+CPSI: NO SERVICE,Online", None),
            ("+CPSI: NO SERVICE,Low Power Mode", None),
            ("+CPSI: CDMA,Online,460-03,0x1,2,3", None),
        ];
        for (line, want) in table {
            assert_eq!(parse_cpsi(line).as_ref(), Ok(want), "{line}");
        }
        for line in [
            "+CPSI: LTE,Online",
            "+CPSI: LTE,Online,46000,0x1234,1",
            "+CPSI: GSM,Online,460-00,0xZZ,5678",
            "+CPSI: GSM,Online,460-00,0x1234,abc",
            "+CPSI:",
        ] {
            assert!(parse_cpsi(line).is_err(), "{line}");
        }
    }

    #[test]
    fn cell_info_to_own_cell() {
        let c = parse_cpsi("+CPSI: GSM,Online,460-00,0x1234,5678,27 EGSM 900,-64,2110,42-42").unwrap().unwrap();
        assert_eq!(
            c.to_own_cell(),
            OwnCell {
                rat: "gsm".into(),
                mcc: Some(460),
                mnc: Some(0),
                lac: Some(0x1234),
                cell_id: Some(5678),
                rssi_dbm: Some(-64)
            }
        );
        assert_eq!(CellInfo::default().to_own_cell(), OwnCell { rat: "unknown".into(), ..OwnCell::default() });
    }

    #[test]
    fn final_codes() {
        assert_eq!(parse_final("OK"), Some(Final::Ok));
        assert_eq!(parse_final("ERROR"), Some(Final::Error { message: "ERROR".into(), code: None }));
        assert_eq!(
            parse_final("+CME ERROR: 10"),
            Some(Final::Error { message: "+CME ERROR: 10".into(), code: Some(10) })
        );
        assert_eq!(
            parse_final("+CME ERROR: SIM not inserted"),
            Some(Final::Error { message: "+CME ERROR: SIM not inserted".into(), code: None })
        );
        assert_eq!(
            parse_final("+CMS ERROR: 321"),
            Some(Final::Error { message: "+CMS ERROR: 321".into(), code: Some(321) })
        );
        for line in ["OKAY", "+CREG: 1", "RING", "", "ERRORS"] {
            assert_eq!(parse_final(line), None, "{line}");
        }
    }

    #[test]
    fn command_names() {
        assert_eq!(command_name("AT+CREG?"), Some("+CREG"));
        assert_eq!(command_name("AT+CREG=2"), Some("+CREG"));
        assert_eq!(command_name("AT+QENG=\"servingcell\""), Some("+QENG"));
        assert_eq!(command_name("AT+CPSI?"), Some("+CPSI"));
        assert_eq!(command_name("ATI"), None);
        assert_eq!(command_name("ATE0"), None);
        assert_eq!(command_name("at+cops?"), Some("+cops"));
        assert_eq!(command_name("AT"), None);
    }

    #[test]
    fn unsolicited_classification() {
        let creg = "+CREG: 1,\"1A2B\",\"01C3D4E5\",7";
        assert_eq!(
            classify_unsolicited(creg, Some("AT+COPS?")),
            Some(Urc::Registration(reg(None, 1, Some(0x1A2B), Some(0x01C3D4E5), Some(7))))
        );
        // The same line during AT+CREG? belongs to the answer.
        assert_eq!(classify_unsolicited(creg, Some("AT+CREG?")), None);
        assert_eq!(classify_unsolicited("RING", Some("AT+CREG?")), Some(Urc::Ring));
        assert_eq!(classify_unsolicited("+CRING: VOICE", None), Some(Urc::Ring));
        assert_eq!(
            classify_unsolicited("+CMTI: \"SM\",3", Some("ATI")),
            Some(Urc::NewMessage { storage: "SM".into(), index: 3 })
        );
        assert_eq!(classify_unsolicited("+CPIN: READY", Some("ATI")), Some(Urc::Other("+CPIN: READY".into())));
        // Information text of basic commands is not unsolicited.
        assert_eq!(classify_unsolicited("Quectel", Some("ATI")), None);
        assert_eq!(classify_unsolicited("Revision: EC25EFAR06A06M4G", Some("ATI")), None);
        assert_eq!(classify_unsolicited("Manufacturer: SIMCOM INCORPORATED", Some("ATI")), None);
        assert_eq!(classify_unsolicited("+QENG: \"servingcell\",\"SEARCH\"", Some("AT+QENG=\"servingcell\"")), None);
    }

    #[test]
    fn vendors() {
        assert_eq!(detect_vendor(&["Quectel", "EC25", "Revision: EC25EFAR06A06M4G"]), Vendor::Quectel);
        assert_eq!(detect_vendor(&["Quectel_Ltd", "Quectel_M95"]), Vendor::Quectel);
        assert_eq!(
            detect_vendor(&["Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600E-H", "Revision: LE20B04"]),
            Vendor::Simcom
        );
        assert_eq!(detect_vendor(&["SIMCOM_Ltd"]), Vendor::Simcom);
        assert_eq!(detect_vendor(&["SIM800 R14.18"]), Vendor::Simcom);
        assert_eq!(detect_vendor(&["u-blox", "SARA-R410M"]), Vendor::Other);
        assert_eq!(detect_vendor(&["SIMple"]), Vendor::Other);
        assert_eq!(detect_vendor::<&str>(&[]), Vendor::Other);
    }

    #[test]
    fn field_splitting_respects_quotes() {
        assert_eq!(split_fields(" 0,0,\"A, B\",7 "), vec!["0", "0", "\"A, B\"", "7"]);
        assert_eq!(split_fields(""), Vec::<&str>::new());
        assert_eq!(split_fields("1,,"), vec!["1", "", ""]);
        assert_eq!(unquote("\""), "\"");
    }

    /// Every fixture line and each of its prefixes parses or fails cleanly.
    #[test]
    fn growing_prefixes_never_panic() {
        let fixtures = [
            "+CREG: 2,1,\"1A2B\",\"01C3D4E5\",7",
            "+COPS: 0,2,\"46000\",7",
            "+CSQ: 20,99",
            "+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",460,00,1A2D001,12,100,1,5,5,DE10,-88,-9,-60,16,44",
            "+QENG: \"neighbourcell\",\"GSM\",460,00,550A,2BC7,35,60,-72,30,30,0,0",
            "+CPSI: LTE,Online,460-00,0x1234,26470016,256,EUTRAN-BAND3,1300,5,5,-94,-850,-545,15",
            "+CME ERROR: 10",
            "+CMTI: \"SM\",3",
        ];
        for line in fixtures {
            for end in 0..=line.len() {
                let prefix = &line[..end];
                parse_all(prefix);
            }
        }
    }

    fn parse_all(line: &str) {
        let _ = parse_creg(line);
        let _ = parse_cops(line);
        let _ = parse_csq(line);
        let _ = parse_qeng_servingcell(line);
        let _ = parse_qeng_neighbour(line);
        let _ = parse_cpsi(line);
        let _ = parse_final(line);
        let _ = classify_unsolicited(line, Some("AT+CREG?"));
        let _ = classify_unsolicited(line, None);
        let _ = command_name(line);
        let _ = detect_vendor(&[line]);
    }

    proptest! {
        #[test]
        fn random_lines_never_panic(line in "\\PC{0,120}") {
            parse_all(&line);
        }

        #[test]
        fn random_at_like_lines_never_panic(
            prefix in prop::sample::select(vec!["+CREG: ", "+COPS: ", "+CSQ: ", "+QENG: ", "+CPSI: ", "+CME ERROR: ", "+CMTI: "]),
            rest in "[0-9A-Fa-fx\",\\- .]{0,80}",
        ) {
            parse_all(&format!("{prefix}{rest}"));
        }

        #[test]
        fn creg_roundtrip(stat in 0u8..11, lac in any::<u16>(), ci in any::<u32>(), act in 0u8..14) {
            let line = format!("+CREG: 2,{stat},\"{lac:04X}\",\"{ci:08X}\",{act}");
            let r = parse_creg(&line).unwrap();
            prop_assert_eq!(r, reg(Some(2), stat, Some(u32::from(lac)), Some(ci), Some(act)));
            let urc = format!("+CREG: {stat},\"{lac:04X}\",\"{ci:08X}\",{act}");
            prop_assert_eq!(parse_creg(&urc).unwrap(), reg(None, stat, Some(u32::from(lac)), Some(ci), Some(act)));
        }
    }
}
