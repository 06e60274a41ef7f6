//! Pictures drawn on the server as inline SVG (no scripts, no chart
//! library): detections per day on the dashboard, and a case's graph of
//! gateways, SIMs (IMSI), modules (IMEI), owners and outlets.
//! Colours come from classes in `app.css`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use maud::{html, Markup};

use crate::cases::CaseDetail;

/// Most nodes drawn per column of a case graph; the rest are counted in a
/// "+N" node so the picture stays readable for cases with hundreds of SIMs.
pub const MAX_NODES_PER_COLUMN: usize = 40;

/// A bar chart of counts per day, oldest day on the left.
pub fn per_day_chart(days: &[(NaiveDate, u64)], label: &str) -> Markup {
    let (w, h, left, bottom, top) = (720.0_f64, 220.0_f64, 36.0_f64, 28.0_f64, 12.0_f64);
    let max = days.iter().map(|d| d.1).max().unwrap_or(0).max(1);
    // A round top for the axis: 1, 2, 5, 10, 20, 50, …
    let mut scale = 1u64;
    while scale < max {
        scale = match scale.to_string().as_bytes()[0] {
            b'1' => scale * 2,
            b'2' => scale / 2 * 5,
            _ => scale * 2,
        };
    }
    let n = days.len().max(1) as f64;
    let slot = (w - left - 8.0) / n;
    let plot_h = h - bottom - top;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(label) {
            title { (label) }
            @for i in 0..=2u64 {
                @let y = top + plot_h - plot_h * (i as f64) / 2.0;
                line.grid x1=(left) x2=(w - 4.0) y1=(y) y2=(y) {}
                text.axis x=(left - 4.0) y=(y + 4.0) text-anchor="end" { (scale * i / 2) }
            }
            @for (i, (day, count)) in days.iter().enumerate() {
                @let bh = plot_h * (*count as f64) / (scale as f64);
                @let x = left + slot * i as f64 + slot * 0.15;
                rect.bar x=(format!("{x:.1}")) y=(format!("{:.1}", top + plot_h - bh)) width=(format!("{:.1}", slot * 0.7)) height=(format!("{bh:.1}")) {
                    title { (day.format("%Y-%m-%d")) ": " (count) }
                }
                @if *count > 0 {
                    text.value x=(format!("{:.1}", x + slot * 0.35)) y=(format!("{:.1}", top + plot_h - bh - 3.0)) text-anchor="middle" { (count) }
                }
                text.axis x=(format!("{:.1}", x + slot * 0.35)) y=(h - 10.0) text-anchor="middle" { (day.format("%m-%d")) }
            }
        }
    }
}

struct Column {
    kind: &'static str,
    title: &'static str,
    nodes: Vec<String>,
    more: usize,
}

/// The case graph: five columns (gateways, IMSIs, IMEIs, owners, outlets)
/// with a line for each tie. Owner labels are as `d` shows them (masked
/// unless revealed).
pub fn case_graph(d: &CaseDetail, titles: [&'static str; 5]) -> Markup {
    let mut edges: BTreeSet<((usize, String), (usize, String))> = BTreeSet::new();
    let mut cols: [BTreeSet<String>; 5] = Default::default();
    for g in &d.gateways {
        cols[0].insert(g.address.clone());
    }
    for s in &d.sims {
        cols[1].insert(s.imsi.clone());
        for t in &s.ties {
            let other = if matches!(t.via.as_str(), "module" | "rotation") { 2 } else { 0 };
            cols[other].insert(t.to.clone());
            edges.insert(((other, t.to.clone()), (1, s.imsi.clone())));
        }
        if let Some(o) = &s.owner_id {
            cols[3].insert(o.clone());
            edges.insert(((1, s.imsi.clone()), (3, o.clone())));
        }
        if let Some(o) = &s.outlet_id {
            cols[4].insert(o.clone());
            edges.insert(((1, s.imsi.clone()), (4, o.clone())));
        }
    }
    for i in &d.imeis {
        cols[2].insert(i.clone());
    }
    for o in &d.owners {
        cols[3].insert(o.owner_id.clone());
    }
    for o in &d.outlets {
        cols[4].insert(o.outlet_id.clone());
    }
    let kinds = ["gateway", "imsi", "imei", "owner", "outlet"];
    let columns: Vec<Column> = cols
        .into_iter()
        .zip(kinds)
        .zip(titles)
        .map(|((set, kind), title)| {
            let more = set.len().saturating_sub(MAX_NODES_PER_COLUMN);
            Column { kind, title, nodes: set.into_iter().take(MAX_NODES_PER_COLUMN).collect(), more }
        })
        .collect();
    let (col_w, row_h, top) = (190.0_f64, 22.0_f64, 40.0_f64);
    let rows = columns.iter().map(|c| c.nodes.len() + usize::from(c.more > 0)).max().unwrap_or(0).max(1);
    let (w, h) = (col_w * 5.0, top + row_h * rows as f64 + 10.0);
    let mut pos: BTreeMap<(usize, &str), (f64, f64)> = BTreeMap::new();
    for (ci, c) in columns.iter().enumerate() {
        // Centre short columns vertically.
        let offset = (rows - c.nodes.len()) as f64 * row_h / 2.0;
        for (ri, n) in c.nodes.iter().enumerate() {
            pos.insert((ci, n.as_str()), (col_w * ci as f64 + 14.0, top + offset + row_h * ri as f64 + row_h / 2.0));
        }
    }
    html! {
        svg.graph xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {w} {h}")) role="img" aria-label="case graph" {
            @for ((ca, a), (cb, b)) in &edges {
                @if let (Some(p), Some(q)) = (pos.get(&(*ca, a.as_str())), pos.get(&(*cb, b.as_str()))) {
                    line.edge x1=(format!("{:.0}", p.0)) y1=(format!("{:.0}", p.1)) x2=(format!("{:.0}", q.0)) y2=(format!("{:.0}", q.1)) {}
                }
            }
            @for (ci, c) in columns.iter().enumerate() {
                text.coltitle x=(col_w * ci as f64 + 6.0) y="20" { (c.title) " (" (c.nodes.len() + c.more) ")" }
                @for n in &c.nodes {
                    @if let Some((x, y)) = pos.get(&(ci, n.as_str())) {
                        g class=(format!("node {}", c.kind)) {
                            circle cx=(format!("{x:.0}")) cy=(format!("{y:.0}")) r="6" {}
                            text x=(format!("{:.0}", x + 10.0)) y=(format!("{:.0}", y + 4.0)) { (n) }
                        }
                    }
                }
                @if c.more > 0 {
                    @let y = top + row_h * c.nodes.len() as f64 + row_h / 2.0;
                    text.more x=(col_w * ci as f64 + 24.0) y=(format!("{:.0}", y + 4.0)) { "+" (c.more) }
                }
            }
        }
    }
}
