//! PDF: A4 pages with the assumptions, a summary table, a stacked bar chart of cost per component
//! and scenario, and one table of lines per scenario. Drawn with `krilla`, which embeds a subset
//! of the bundled DejaVu Sans (assets/fonts, Bitstream Vera licence) and maps every glyph back to
//! Unicode, so the text can be searched and extracted (`pdftotext`).
//!
//! Layout happens first, into plain drawing operations per page; rendering then walks them.

use super::html::{PALETTE, truncate};
use super::{CostReport, component_label};
use crate::cost::money::format_delta_minor;
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};
use std::io::Write;

static FONT_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 40.0;
const BODY: f32 = 9.0;
const ROW: f32 = 14.0;

type Rgb = (u8, u8, u8);
const BLACK: Rgb = (0, 0, 0);
const GREY: Rgb = (90, 90, 90);
const RED: Rgb = (176, 0, 32);
const HEADER_BG: Rgb = (235, 235, 235);

enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        text: String,
        color: Rgb,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Rgb,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        color: Rgb,
    },
}

#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
}

struct Layout {
    font: FontRef<'static>,
    pages: Vec<Vec<Op>>,
    /// Top of the next thing to draw (y grows downwards).
    y: f32,
}

impl Layout {
    fn width(&self, text: &str, size: f32) -> f32 {
        let charmap = self.font.charmap();
        let metrics = self
            .font
            .glyph_metrics(Size::new(size), LocationRef::default());
        text.chars()
            .map(|c| {
                charmap
                    .map(c)
                    .and_then(|g| metrics.advance_width(g))
                    .unwrap_or(size * 0.6)
            })
            .sum()
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page when `height` does not fit below the cursor.
    fn need(&mut self, height: f32) {
        if self.y + height > PAGE_H - MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn text(&mut self, x: f32, baseline: f32, size: f32, text: &str, color: Rgb) {
        self.ops().push(Op::Text {
            x,
            y: baseline,
            size,
            text: text.to_owned(),
            color,
        });
    }

    /// Text cut with an ellipsis to fit `width`, aligned in the cell.
    fn cell(&mut self, x: f32, width: f32, baseline: f32, text: &str, align: Align, color: Rgb) {
        let mut shown = text.to_owned();
        let mut max = text.chars().count();
        while max > 1 && self.width(&shown, BODY) > width - 6.0 {
            max -= 1;
            shown = truncate(text, max);
        }
        let w = self.width(&shown, BODY);
        let tx = match align {
            Align::Left => x + 3.0,
            Align::Right => x + width - 3.0 - w,
        };
        self.text(tx, baseline, BODY, &shown, color);
    }

    fn heading(&mut self, text: &str, size: f32) {
        self.need(size * 2.2 + ROW * 2.0);
        self.y += size * 0.6;
        let y = self.y + size;
        self.text(MARGIN, y, size, text, BLACK);
        self.y += size * 1.6;
    }

    /// Wrapped paragraph at `x`, `width` wide.
    fn paragraph(&mut self, x: f32, width: f32, text: &str, size: f32, color: Rgb) {
        let mut line = String::new();
        let mut lines = Vec::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if !line.is_empty() && self.width(&candidate, size) > width {
                lines.push(std::mem::replace(&mut line, word.to_owned()));
            } else {
                line = candidate;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        for l in lines {
            self.need(size * 1.4);
            let y = self.y + size;
            self.text(x, y, size, &l, color);
            self.y += size * 1.4;
        }
    }

    /// A table with a grey header row; each row is (cells, colour). Breaks across pages,
    /// repeating the header.
    fn table(&mut self, columns: &[(&str, f32, Align)], rows: &[(Vec<String>, Rgb)]) {
        let total_w: f32 = columns.iter().map(|c| c.1).sum();
        let header = |l: &mut Self| {
            l.need(ROW * 2.0);
            let top = l.y;
            l.ops().push(Op::Rect {
                x: MARGIN,
                y: top,
                w: total_w,
                h: ROW,
                color: HEADER_BG,
            });
            let mut x = MARGIN;
            for (name, w, align) in columns {
                l.cell(x, *w, top + ROW - 4.0, name, *align, BLACK);
                x += w;
            }
            l.y += ROW;
        };
        header(self);
        for (cells, color) in rows {
            if self.y + ROW > PAGE_H - MARGIN {
                self.need(PAGE_H);
                header(self);
            }
            let top = self.y;
            let mut x = MARGIN;
            for ((_, w, align), text) in columns.iter().zip(cells) {
                self.cell(x, *w, top + ROW - 4.0, text, *align, *color);
                x += w;
            }
            self.ops().push(Op::Line {
                x1: MARGIN,
                y1: top + ROW,
                x2: MARGIN + total_w,
                y2: top + ROW,
                color: (200, 200, 200),
            });
            self.y += ROW;
        }
        self.y += 6.0;
    }

    fn bar_chart(&mut self, report: &CostReport) {
        let chart_h = 200.0;
        let legend_rows = report.components.len().div_ceil(4) as f32;
        self.need(chart_h + 40.0 + legend_rows * ROW);
        let left = MARGIN + 60.0;
        let right = PAGE_W - MARGIN;
        let top = self.y + 14.0;
        let base = top + chart_h;
        let max = report
            .scenarios
            .iter()
            .map(|s| s.total_minor)
            .max()
            .unwrap_or(0)
            .max(1);
        let max_label = report.money(max);
        let w = self.width(&max_label, 8.0);
        self.text(left - 6.0 - w, top + 8.0, 8.0, &max_label, GREY);
        self.ops().push(Op::Line {
            x1: left,
            y1: top,
            x2: left + 4.0,
            y2: top,
            color: GREY,
        });
        self.ops().push(Op::Line {
            x1: left,
            y1: base,
            x2: right,
            y2: base,
            color: BLACK,
        });
        let n = report.scenarios.len().max(1) as f32;
        let slot = (right - left) / n;
        let bar_w = (slot * 0.6).min(70.0);
        for (i, s) in report.scenarios.iter().enumerate() {
            let x = left + slot * i as f32 + (slot - bar_w) / 2.0;
            let mut y = base;
            for (ci, c) in s.components.iter().enumerate() {
                let h = chart_h * c.total_minor as f32 / max as f32;
                if h <= 0.0 {
                    continue;
                }
                y -= h;
                self.ops().push(Op::Rect {
                    x,
                    y,
                    w: bar_w,
                    h,
                    color: PALETTE[ci % PALETTE.len()],
                });
            }
            let total = report.money(s.total_minor);
            let tw = self.width(&total, 8.0);
            self.text(x + bar_w / 2.0 - tw / 2.0, y - 3.0, 8.0, &total, BLACK);
            let mut name = s.name.clone();
            let mut max_chars = name.chars().count();
            while max_chars > 1 && self.width(&name, 7.5) > slot - 4.0 {
                max_chars -= 1;
                name = truncate(&s.name, max_chars);
            }
            let nw = self.width(&name, 7.5);
            self.text(x + bar_w / 2.0 - nw / 2.0, base + 11.0, 7.5, &name, BLACK);
        }
        self.y = base + 20.0;
        for (ci, key) in report.components.iter().enumerate() {
            let lx = left + 110.0 * (ci % 4) as f32;
            let ly = self.y + ROW * (ci / 4) as f32;
            self.ops().push(Op::Rect {
                x: lx,
                y: ly,
                w: 8.0,
                h: 8.0,
                color: PALETTE[ci % PALETTE.len()],
            });
            self.text(lx + 12.0, ly + 8.0, 8.0, &component_label(key), BLACK);
        }
        self.y += ROW * legend_rows + 6.0;
    }
}

fn layout(report: &CostReport) -> Result<Vec<Vec<Op>>, String> {
    let font = FontRef::new(FONT_TTF).map_err(|e| format!("bundled font unreadable: {e}"))?;
    let mut l = Layout {
        font,
        pages: vec![Vec::new()],
        y: MARGIN,
    };
    l.heading(&format!("Cost report: {}", report.model), 16.0);
    let rows: Vec<(Vec<String>, Rgb)> = report
        .assumption_rows()
        .into_iter()
        .map(|(k, v)| (vec![k.to_owned(), v], BLACK))
        .collect();
    // Assumptions: label column, then the value wrapped over the rest of the width.
    for (cells, _) in &rows {
        let top = l.y;
        l.text(MARGIN, top + BODY, BODY, &cells[0], GREY);
        l.paragraph(
            MARGIN + 110.0,
            PAGE_W - 2.0 * MARGIN - 110.0,
            &cells[1],
            BODY,
            BLACK,
        );
        l.y = l.y.max(top + ROW);
    }

    l.heading("Summary (per month)", 12.0);
    let currency = report.assumptions.currency.clone();
    let summary: Vec<(Vec<String>, Rgb)> = report
        .scenarios
        .iter()
        .map(|s| {
            let color = if s.within_target == Some(false) {
                RED
            } else {
                BLACK
            };
            (
                vec![
                    s.name.clone(),
                    s.data_source.label().to_owned(),
                    report.money(s.total_minor),
                    s.delta_minor
                        .map(|d| format_delta_minor(d, &currency))
                        .unwrap_or_default(),
                    s.mrr_minor.map(|m| report.money(m)).unwrap_or_default(),
                    s.percent_of_mrr_seed_rule
                        .as_ref()
                        .map(|p| format!("{p} %"))
                        .unwrap_or_default(),
                    s.percent_of_mrr_exact
                        .as_ref()
                        .map(|p| format!("{p} %"))
                        .unwrap_or_default(),
                ],
                color,
            )
        })
        .collect();
    l.table(
        &[
            ("Scenario", 140.0, Align::Left),
            ("Source", 50.0, Align::Left),
            ("Total", 70.0, Align::Right),
            ("Change", 70.0, Align::Right),
            ("MRR", 65.0, Align::Right),
            ("% MRR", 50.0, Align::Right),
            ("exact %", 70.0, Align::Right),
        ],
        &summary,
    );
    l.paragraph(
        MARGIN,
        PAGE_W - 2.0 * MARGIN,
        "% MRR: the seeds' rule (bc scale=1, truncated to one decimal); exact %: the exact ratio to four decimals. Red: over the target.",
        8.0,
        GREY,
    );

    l.heading("Monthly cost per component", 12.0);
    l.bar_chart(report);

    for s in &report.scenarios {
        l.heading(&format!("{} ({})", s.name, s.data_source.label()), 12.0);
        let mut rows: Vec<(Vec<String>, Rgb)> = s
            .lines
            .iter()
            .map(|line| {
                (
                    vec![
                        component_label(&line.component),
                        line.description.clone(),
                        line.quantity.clone(),
                        line.unit.replace('_', " "),
                        line.price_per_unit.clone(),
                        report.money(line.monthly_cost_minor),
                    ],
                    BLACK,
                )
            })
            .collect();
        rows.push((
            vec![
                "Total".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                report.money(s.total_minor),
            ],
            BLACK,
        ));
        l.table(
            &[
                ("Component", 80.0, Align::Left),
                ("Description", 165.0, Align::Left),
                ("Quantity", 50.0, Align::Right),
                ("Unit", 85.0, Align::Left),
                ("Price/unit", 60.0, Align::Right),
                ("Per month", 75.0, Align::Right),
            ],
            &rows,
        );
    }
    Ok(l.pages)
}

fn color((r, g, b): Rgb) -> rgb::Color {
    rgb::Color::new(r, g, b)
}

pub fn write_pdf(report: &CostReport, w: &mut dyn Write) -> Result<(), String> {
    let pages = layout(report)?;
    let font = Font::new(FONT_TTF.into(), 0).ok_or("the bundled font could not be loaded")?;
    let mut document = Document::new();
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or("bad page size")?;
    let total = pages.len();
    for (index, ops) in pages.into_iter().enumerate() {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    text,
                    color: c,
                } => {
                    surface.set_stroke(None);
                    surface.set_fill(Some(Fill {
                        paint: color(c).into(),
                        opacity: NormalizedF32::ONE,
                        rule: Default::default(),
                    }));
                    surface.draw_text(
                        Point::from_xy(x, y),
                        font.clone(),
                        size,
                        &text,
                        false,
                        TextDirection::Auto,
                    );
                }
                Op::Rect {
                    x,
                    y,
                    w,
                    h,
                    color: c,
                } => {
                    let Some(rect) = Rect::from_xywh(x, y, w.max(0.1), h.max(0.1)) else {
                        continue;
                    };
                    let mut pb = PathBuilder::new();
                    pb.push_rect(rect);
                    if let Some(path) = pb.finish() {
                        surface.set_stroke(None);
                        surface.set_fill(Some(Fill {
                            paint: color(c).into(),
                            opacity: NormalizedF32::ONE,
                            rule: Default::default(),
                        }));
                        surface.draw_path(&path);
                    }
                }
                Op::Line {
                    x1,
                    y1,
                    x2,
                    y2,
                    color: c,
                } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(x1, y1);
                    pb.line_to(x2, y2);
                    if let Some(path) = pb.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            paint: color(c).into(),
                            width: 0.6,
                            ..Default::default()
                        }));
                        surface.draw_path(&path);
                    }
                }
            }
        }
        // Footer: page number and when the report was made.
        surface.set_stroke(None);
        surface.set_fill(Some(Fill {
            paint: color(GREY).into(),
            opacity: NormalizedF32::ONE,
            rule: Default::default(),
        }));
        surface.draw_text(
            Point::from_xy(MARGIN, PAGE_H - 20.0),
            font.clone(),
            7.5,
            &format!(
                "Scaleboard cost report \u{2014} {} \u{2014} generated {} \u{2014} page {} of {total}",
                report.model,
                report.generated_at,
                index + 1
            ),
            false,
            TextDirection::Auto,
        );
        surface.finish();
        page.finish();
    }
    let bytes = document
        .finish()
        .map_err(|e| format!("could not make the PDF: {e:?}"))?;
    w.write_all(&bytes).map_err(|e| e.to_string())
}
