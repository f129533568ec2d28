//! HTML: one self-contained, printable page (inline CSS, inline SVG chart, no scripts, no
//! external files). Every piece of text from the model is escaped.

use super::{CostReport, component_label};
use std::fmt::Write as _;
use std::io::Write;

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Fill colours of the components, in component order (shared with the PDF chart).
pub const PALETTE: [(u8, u8, u8); 8] = [
    (66, 133, 244),
    (219, 68, 55),
    (244, 180, 0),
    (15, 157, 88),
    (171, 71, 188),
    (0, 172, 193),
    (255, 112, 67),
    (158, 157, 36),
];

const STYLE: &str = "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:2em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}\
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #bbb;padding:.25em .6em}\
th{background:#f0f0f0;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}\
tr.total td{font-weight:bold}.over{color:#b00020}.note{color:#555;font-size:.9em}\
@media print{body{margin:0}h2{page-break-after:avoid}table{page-break-inside:avoid}}";

pub fn write_html(report: &CostReport, w: &mut dyn Write) -> std::io::Result<()> {
    let mut h = String::new();
    let title = format!("Cost report: {}", report.model);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    h.push_str("<h2>Assumptions</h2>\n<table>\n");
    for (label, value) in report.assumption_rows() {
        let _ = writeln!(
            h,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(label),
            escape(&value)
        );
    }
    h.push_str("</table>\n");

    h.push_str("<h2>Summary</h2>\n<table>\n<tr><th>Scenario</th><th>Source</th>");
    for key in &report.components {
        let _ = write!(h, "<th>{}</th>", escape(&component_label(key)));
    }
    h.push_str(
        "<th>Total / month</th><th>Change</th><th>MRR</th><th>% of MRR (seed rule)</th>\
         <th>% of MRR (exact)</th></tr>\n",
    );
    for s in &report.scenarios {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td>",
            escape(&s.name),
            s.data_source.label()
        );
        for c in &s.components {
            let _ = write!(
                h,
                "<td class=\"num\">{}</td>",
                escape(&report.money(c.total_minor))
            );
        }
        let delta = s.delta_minor.map_or(String::new(), |d| {
            format!(
                "{} vs {}",
                crate::cost::money::format_delta_minor(d, &report.assumptions.currency),
                s.delta_from.clone().unwrap_or_default()
            )
        });
        let over = if s.within_target == Some(false) {
            " over"
        } else {
            ""
        };
        let _ = writeln!(
            h,
            "<td class=\"num\"><b>{}</b></td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num{over}\">{}</td><td class=\"num{over}\">{}</td></tr>",
            escape(&report.money(s.total_minor)),
            escape(&delta),
            s.mrr_minor.map(|m| report.money(m)).unwrap_or_default(),
            s.percent_of_mrr_seed_rule
                .as_ref()
                .map(|p| format!("{p} %"))
                .unwrap_or_default(),
            s.percent_of_mrr_exact
                .as_ref()
                .map(|p| format!("{p} %"))
                .unwrap_or_default(),
        );
    }
    h.push_str("</table>\n");
    h.push_str(&svg_chart(report));

    for s in &report.scenarios {
        let _ = writeln!(
            h,
            "<h2>{} <span class=\"note\">({})</span></h2>\n<table>\n<tr><th>Component</th>\
             <th>Description</th><th>Quantity</th><th>Unit</th><th>Price per unit</th>\
             <th>Per month</th></tr>",
            escape(&s.name),
            s.data_source.label()
        );
        for l in &s.lines {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(&component_label(&l.component)),
                escape(&l.description),
                escape(&l.quantity),
                escape(&l.unit.replace('_', " ")),
                escape(&l.price_per_unit),
                escape(&report.money(l.monthly_cost_minor)),
            );
        }
        let _ = writeln!(
            h,
            "<tr class=\"total\"><td colspan=\"5\">Total</td><td class=\"num\">{}</td></tr>\n</table>",
            escape(&report.money(s.total_minor))
        );
    }
    let _ = writeln!(
        h,
        "<p class=\"note\">Made by Scaleboard on {} (schema version {}).</p>\n</body></html>",
        escape(&report.generated_at),
        report.schema_version
    );
    w.write_all(h.as_bytes())
}

/// Stacked bars: one per scenario, one segment per component.
fn svg_chart(report: &CostReport) -> String {
    let max = report
        .scenarios
        .iter()
        .map(|s| s.total_minor)
        .max()
        .unwrap_or(0)
        .max(1);
    let (width, height, left, bottom) = (760.0_f64, 300.0_f64, 80.0_f64, 40.0_f64);
    let plot_h = height - bottom - 20.0;
    let n = report.scenarios.len().max(1) as f64;
    let slot = (width - left - 10.0) / n;
    let bar_w = (slot * 0.6).min(80.0);
    let mut svg = format!(
        "<h2>Monthly cost per component</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{width}\" height=\"{}\" role=\"img\" aria-label=\"Monthly cost per component \
         and scenario\" font-size=\"11\">\n",
        height + 20.0 * ((report.components.len() as f64 / 4.0).ceil())
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{width}\" y2=\"{}\" stroke=\"#444\"/>",
        height - bottom,
        height - bottom
    );
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"24\" text-anchor=\"end\">{}</text>",
        left - 6.0,
        escape(&report.money(max))
    );
    for (i, s) in report.scenarios.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar_w) / 2.0;
        let mut y = height - bottom;
        for (ci, c) in s.components.iter().enumerate() {
            let hgt = plot_h * c.total_minor as f64 / max as f64;
            if hgt <= 0.0 {
                continue;
            }
            y -= hgt;
            let (r, g, b) = PALETTE[ci % PALETTE.len()];
            let _ = writeln!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{hgt:.1}\" \
                 fill=\"rgb({r},{g},{b})\"><title>{}: {}</title></rect>",
                escape(&s.name),
                escape(&format!("{} {}", c.label, report.money(c.total_minor)))
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x + bar_w / 2.0,
            y - 4.0,
            escape(&report.money(s.total_minor)),
            x + bar_w / 2.0,
            height - bottom + 14.0,
            escape(&truncate(&s.name, (slot / 6.5) as usize)),
        );
    }
    for (ci, key) in report.components.iter().enumerate() {
        let (r, g, b) = PALETTE[ci % PALETTE.len()];
        let lx = left + 150.0 * (ci % 4) as f64;
        let ly = height + 20.0 * (ci / 4) as f64;
        let _ = writeln!(
            svg,
            "<rect x=\"{lx}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"rgb({r},{g},{b})\"/>\
             <text x=\"{}\" y=\"{:.1}\">{}</text>",
            ly - 9.0,
            lx + 14.0,
            ly,
            escape(&component_label(key))
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// At most `max` characters, with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
