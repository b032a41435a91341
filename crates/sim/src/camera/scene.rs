//! The picture of a simulated camera: a tinted backdrop, a ball moving across it, the
//! camera's id and a running wall clock (UTC, to the tenth of a second), so a viewer can
//! tell cameras apart and see how old a picture is.

use super::h264::Picture;

/// 5x7 glyphs, one row per byte (low 5 bits, left pixel highest).
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        'A' => [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
        'B' => [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
        'C' => [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e],
        'D' => [0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c],
        'E' => [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f],
        'F' => [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
        'G' => [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f],
        'H' => [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
        'I' => [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
        'M' => [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
        'P' => [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
        'Q' => [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d],
        'R' => [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
        'S' => [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e],
        'T' => [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a],
        'X' => [0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04],
        'Z' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f],
        ':' => [0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c],
        '-' => [0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00],
        '/' => [0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10],
        _ => [0; 7],
    }
}

pub struct Scene {
    label: String,
    /// Backdrop chroma, from the label, so cameras look different.
    tint: (u8, u8),
}

impl Scene {
    pub fn new(label: &str) -> Scene {
        let h = label.bytes().fold(2166136261u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16777619));
        Scene { label: label.to_string(), tint: (96 + (h & 63) as u8, 96 + ((h >> 8) & 63) as u8) }
    }

    /// Draws the picture at `frame` (for the ball) and `now_ms` (for the clock).
    pub fn draw(&self, pic: &mut Picture, frame: u64, now_ms: u64) {
        let (w, h) = (pic.width, pic.height);
        // Backdrop: a vertical gradient (static, so it costs nothing after the key frame).
        for yy in 0..h {
            let v = 40 + (yy * 60 / h) as u8;
            pic.y[yy * w..(yy + 1) * w].fill(v);
        }
        pic.u.fill(self.tint.0);
        pic.v.fill(self.tint.1);
        // The ball: bounces across the picture.
        let r = (h / 10).max(4);
        let span_x = (w - 2 * r) as u64;
        let span_y = (h - 2 * r) as u64;
        let bounce = |t: u64, span: u64| {
            let p = t % (2 * span);
            (if p < span { p } else { 2 * span - p }) as usize
        };
        let (cx, cy) = (r + bounce(frame * 3, span_x), r + bounce(frame * 2, span_y));
        for yy in cy.saturating_sub(r)..(cy + r).min(h) {
            for xx in cx.saturating_sub(r)..(cx + r).min(w) {
                let (dx, dy) = (xx as i64 - cx as i64, yy as i64 - cy as i64);
                if dx * dx + dy * dy < (r * r) as i64 {
                    pic.y[yy * w + xx] = 210;
                    let ci = (yy / 2) * (w / 2) + xx / 2;
                    pic.u[ci] = 80;
                    pic.v[ci] = 200;
                }
            }
        }
        let scale = (w / 160).max(1);
        self.text(pic, &self.label, 4 * scale, 4 * scale, scale);
        let secs = now_ms / 1000;
        let clock = format!(
            "{:02}:{:02}:{:02}.{}",
            (secs / 3600) % 24,
            (secs / 60) % 60,
            secs % 60,
            (now_ms % 1000) / 100
        );
        let y = h - 4 * scale - 7 * scale;
        self.text(pic, &clock, 4 * scale, y, scale);
    }

    /// White text with a dark box behind it, `scale` pixels per glyph pixel.
    fn text(&self, pic: &mut Picture, text: &str, x: usize, y: usize, scale: usize) {
        let w = pic.width;
        let box_w = (text.chars().count() * 6 + 1) * scale;
        for yy in y.saturating_sub(scale)..(y + 8 * scale).min(pic.height) {
            for xx in x.saturating_sub(scale)..(x + box_w).min(w) {
                pic.y[yy * w + xx] = 16;
            }
        }
        for (i, c) in text.chars().enumerate() {
            for (row, bits) in glyph(c).iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) == 0 {
                        continue;
                    }
                    for sy in 0..scale {
                        for sx in 0..scale {
                            let (px, py) = (x + (i * 6 + col) * scale + sx, y + row * scale + sy);
                            if px < w && py < pic.height {
                                pic.y[py * w + px] = 235;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The scene of camera `label` at `now_ms`, as a JPEG.
pub fn still(label: &str, width: usize, height: usize, fps: u32, now_ms: u64) -> Vec<u8> {
    let mut pic = Picture::new(width, height);
    Scene::new(label).draw(&mut pic, now_ms * u64::from(fps) / 1000, now_ms);
    to_jpeg(&pic)
}

/// The picture as a JPEG (for snapshots): YUV 4:2:0 to RGB (BT.601, limited range).
pub fn to_jpeg(pic: &Picture) -> Vec<u8> {
    let (w, h) = (pic.width, pic.height);
    let rgb = image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let luma = (f32::from(pic.y[y * w + x]) - 16.0) * 1.164;
        let ci = (y / 2) * (w / 2) + x / 2;
        let (u, v) = (f32::from(pic.u[ci]) - 128.0, f32::from(pic.v[ci]) - 128.0);
        let clamp = |c: f32| c.clamp(0.0, 255.0) as u8;
        image::Rgb([clamp(luma + 1.596 * v), clamp(luma - 0.392 * u - 0.813 * v), clamp(luma + 2.017 * u)])
    });
    let mut out = Vec::new();
    // Encoding into a Vec cannot fail for a valid RGB picture.
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&rgb);
    out
}
