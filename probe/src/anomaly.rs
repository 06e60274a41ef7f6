//! Everything that can go wrong with a frame, as a typed enum counted by kind.
//!
//! Bad input is never fatal: each problem is counted under a stable snake_case
//! name (the keys of `decode_errors` and `limits` in the JSON report) and the
//! frame or datagram is skipped.

use std::collections::BTreeMap;

macro_rules! anomalies {
    ($( $(#[$meta:meta])* $variant:ident => $name:literal, $class:ident; )+) => {
        /// A named problem with one frame, datagram or stream.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Anomaly {
            $( $(#[$meta])* $variant, )+
        }

        impl Anomaly {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Anomaly] = &[$(Anomaly::$variant),+];

            /// The stable snake_case name used in reports.
            pub fn name(self) -> &'static str {
                match self { $( Anomaly::$variant => $name, )+ }
            }

            /// Whether this is a decode error or a table hitting its cap.
            pub fn class(self) -> Class {
                match self { $( Anomaly::$variant => Class::$class, )+ }
            }
        }
    };
}

/// Which report section an anomaly is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Input that could not be decoded (`decode_errors`).
    Decode,
    /// A bounded table that was full or an entry that grew too large (`limits`).
    Limit,
}

anomalies! {
    /// The capture's link type is not one the probe decodes.
    LinkTypeUnsupported => "link_type_unsupported", Decode;
    /// Frame shorter than an Ethernet header.
    EthernetTruncated => "ethernet_truncated", Decode;
    /// A VLAN tag cut off, or more tags than any real network stacks.
    VlanMalformed => "vlan_malformed", Decode;
    /// Frame shorter than a Linux cooked (SLL/SLL2) header.
    SllTruncated => "sll_truncated", Decode;
    /// Loopback (BSD null) header cut off.
    NullTruncated => "null_truncated", Decode;
    /// IPv4 header or declared length beyond the captured bytes.
    Ipv4Truncated => "ipv4_truncated", Decode;
    /// IPv4 header with an impossible version or length.
    Ipv4Malformed => "ipv4_malformed", Decode;
    /// IPv6 header, payload or extension header beyond the captured bytes.
    Ipv6Truncated => "ipv6_truncated", Decode;
    /// IPv6 header with a bad version or an endless extension chain.
    Ipv6Malformed => "ipv6_malformed", Decode;
    /// IP-in-IP nested deeper than the probe unwraps.
    TunnelTooDeep => "ip_tunnel_too_deep", Decode;
    /// UDP header or declared length beyond the datagram.
    UdpTruncated => "udp_truncated", Decode;
    /// UDP length shorter than its header.
    UdpMalformed => "udp_malformed", Decode;
    /// TCP header beyond the segment.
    TcpTruncated => "tcp_truncated", Decode;
    /// TCP data offset shorter than the fixed header.
    TcpMalformed => "tcp_malformed", Decode;
    /// Fragments that overlap with different bytes or extend past 64 KiB.
    FragmentMalformed => "ip_fragment_malformed", Decode;
    /// Fragments whose datagram never completed before the timeout.
    FragmentIncomplete => "ip_fragment_incomplete", Decode;
    /// A UDP datagram on a SIP port (5060/5061) that is not SIP.
    SipPortNotSip => "udp_sip_port_not_sip", Decode;
    /// A GoIP SMS-server message that does not parse.
    GoipMalformed => "goip_malformed", Decode;
    /// A TCP stream lost bytes (a gap never filled), so SIP framing restarted.
    TcpStreamGap => "tcp_stream_gap", Decode;
    /// Bytes on a SIP stream that do not frame as SIP; skipped to resynchronise.
    TcpSipUnframed => "tcp_sip_unframed", Decode;
    /// SIP message on a stream larger than the message limit.
    TcpSipTooLarge => "tcp_sip_too_large", Decode;
    /// The fragment table was full; a new datagram's fragments were dropped.
    FragmentTableFull => "fragment_table_full", Limit;
    /// The TCP stream table was full; a new stream was not followed.
    TcpStreamTableFull => "tcp_stream_table_full", Limit;
    /// Out-of-order TCP data beyond the per-stream buffer cap.
    TcpReorderBufferFull => "tcp_reorder_buffer_full", Limit;
    /// The dialog table was full; a new call was not tracked.
    DialogTableFull => "dialog_table_full", Limit;
    /// A host's call log was full; a call was counted but not logged for the agent.
    CallLogFull => "call_log", Limit;
    /// The registration table was full; a new binding was not tracked.
    RegistrationTableFull => "registration_table_full", Limit;
    /// The address table was full; a new address was not tracked.
    AddressTableFull => "address_table_full", Limit;
    /// A per-address list (accounts, user agents, ports) reached its cap.
    AddressListFull => "address_list_full", Limit;
}

/// Counters for every [`Anomaly`], cheap enough for the per-packet path,
/// plus counts kept elsewhere under their own names (e.g. the RTP tracker's).
#[derive(Debug, Clone)]
pub struct Counters {
    counts: [u64; Anomaly::ALL.len()],
    named: Vec<(&'static str, Class, u64)>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters { counts: [0; Anomaly::ALL.len()], named: Vec::new() }
    }
}

impl Counters {
    /// Count one occurrence.
    #[inline]
    pub fn add(&mut self, a: Anomaly) {
        self.counts[a as usize] += 1;
    }

    /// The count of one kind.
    pub fn get(&self, a: Anomaly) -> u64 {
        self.counts[a as usize]
    }

    /// Add `n` to a count kept under its own name by another module.
    pub fn add_named(&mut self, name: &'static str, class: Class, n: u64) {
        match self.named.iter_mut().find(|(k, _, _)| *k == name) {
            Some(entry) => entry.2 += n,
            None => self.named.push((name, class, n)),
        }
    }

    /// Non-zero counts of one class, by name.
    pub fn by_name(&self, class: Class) -> BTreeMap<String, u64> {
        let mut m: BTreeMap<String, u64> = Anomaly::ALL
            .iter()
            .filter(|a| a.class() == class && self.get(**a) > 0)
            .map(|a| (a.name().to_string(), self.get(*a)))
            .collect();
        for (name, c, n) in &self.named {
            if *c == class && *n > 0 {
                *m.entry((*name).to_string()).or_default() += n;
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for a in Anomaly::ALL {
            let n = a.name();
            assert!(seen.insert(n), "duplicate name {n}");
            assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()), "{n}");
        }
    }

    #[test]
    fn counters_split_by_class() {
        let mut c = Counters::default();
        c.add(Anomaly::UdpTruncated);
        c.add(Anomaly::UdpTruncated);
        c.add(Anomaly::DialogTableFull);
        assert_eq!(c.by_name(Class::Decode).get("udp_truncated"), Some(&2));
        assert_eq!(c.by_name(Class::Decode).len(), 1);
        assert_eq!(c.by_name(Class::Limit).get("dialog_table_full"), Some(&1));
    }
}
