//! Names are whatever operators typed: emoji, Chinese, Japanese, Korean. egui's bundled fonts
//! cover Latin, Greek, Cyrillic and the Noto Emoji set; behind them come the system fonts eframe
//! finds (when the machine has any), then the CJK font shipped here (Droid Sans Fallback,
//! Apache-2.0, 3.4 MB, see assets/fonts), and last a drawn box showing the character's code
//! point (as Unicode's "last resort" font does), so no name ever shows as an empty box.

use egui::epaint::text::{
    FontInsert, FontPriority, GlyphBitmap, GlyphRasterizer, GlyphRasterizerRequest,
    InsertFontFamily, RasterizedGlyph,
};
use egui::{Color32, ColorImage, FontData, FontFamily};

const CJK_NAME: &str = "DroidSansFallback";
static CJK_TTF: &[u8] = include_bytes!("../../assets/fonts/DroidSansFallback.ttf");

/// Idempotent and cheap: called at the top of every frame (the first frame installs).
pub fn install(ctx: &egui::Context) {
    ctx.add_font(FontInsert::new(
        CJK_NAME,
        FontData::from_static(CJK_TTF),
        vec![
            InsertFontFamily {
                family: FontFamily::Proportional,
                priority: FontPriority::Lowest,
            },
            InsertFontFamily {
                family: FontFamily::Monospace,
                priority: FontPriority::Lowest,
            },
        ],
    ));
    ctx.add_glyph_rasterizer(GlyphRasterizer::new(
        "scaleboard::code_point_box",
        code_point_box,
    ));
}

/// 3×5 pixel digits 0–F, one row per `u8`, three low bits per row (MSB = left).
const HEX_DIGITS: [[u8; 5]; 16] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
    [7, 5, 7, 5, 5],
    [6, 5, 6, 5, 6],
    [7, 4, 4, 4, 7],
    [6, 5, 5, 5, 6],
    [7, 4, 6, 4, 7],
    [7, 4, 6, 4, 4],
];

/// A framed box with the code point in hex on two rows ("1F9", "EA8" for U+1F9EA).
fn code_point_box(request: &GlyphRasterizerRequest<'_>) -> Option<RasterizedGlyph> {
    let c = request.cluster.chars().next()?;
    if c.is_control() || c.is_whitespace() {
        return None;
    }
    let hex = format!("{:04X}", c as u32);
    let digits: Vec<usize> = hex
        .chars()
        .filter_map(|d| d.to_digit(16).map(|d| d as usize))
        .collect();
    let per_row = digits.len().div_ceil(2);
    // One "pixel" of the digit font: the whole box is 15 of them high, about the text height.
    let u = ((request.font_size_px / 14.0).round() as usize).max(1);
    let inner_w = per_row * 4 - 1;
    let width = (inner_w + 4) * u;
    let height = 15 * u;
    let mut image = ColorImage::filled([width, height], Color32::TRANSPARENT);
    let mut fill = |x: usize, y: usize| {
        for dy in 0..u {
            for dx in 0..u {
                image[(x * u + dx, y * u + dy)] = Color32::WHITE;
            }
        }
    };
    for x in 0..inner_w + 4 {
        fill(x, 0);
        fill(x, 14);
    }
    for y in 0..15 {
        fill(0, y);
        fill(inner_w + 3, y);
    }
    for (i, &d) in digits.iter().enumerate() {
        let (row, col) = (i / per_row, i % per_row);
        let (x0, y0) = (2 + col * 4, 2 + row * 6);
        for (dy, bits) in HEX_DIGITS[d].iter().enumerate() {
            for dx in 0..3 {
                if bits & (4 >> dx) != 0 {
                    fill(x0 + dx, y0 + dy);
                }
            }
        }
    }
    Some(RasterizedGlyph {
        bitmap: GlyphBitmap {
            image,
            // The pen is on the baseline; the box reaches a little below it, like descenders.
            offset_px: egui::vec2(u as f32, -((12 * u) as f32)),
            is_color: false,
        },
        advance_px: (width + 2 * u) as f32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_shows_every_hex_digit_of_the_code_point() {
        let request = GlyphRasterizerRequest {
            cluster: "\u{1FAE8}",
            family: &FontFamily::Proportional,
            font_size_px: 14.0,
            subpixel_offset_px: 0.0,
        };
        let glyph = code_point_box(&request).unwrap_or_else(|| panic!("no glyph"));
        // 5 hex digits on two rows of 3: 3 × 4 − 1 + 4 = 15 wide, 15 high.
        assert_eq!(glyph.bitmap.image.size, [15, 15]);
        let request = GlyphRasterizerRequest {
            cluster: "\n",
            ..request
        };
        assert!(code_point_box(&request).is_none());
    }
}
