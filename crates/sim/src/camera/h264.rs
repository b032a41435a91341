//! A tiny H.264 encoder for simulated cameras: Constrained Baseline, CAVLC, every coded
//! macroblock sent raw (I_PCM) and every unchanged one skipped (P_Skip). No transform, no
//! motion search: a few hundred lines with no C library, yet a real, standard stream every
//! decoder plays (ffmpeg, GStreamer, browsers). It suits a synthetic scene where little
//! changes per frame; its bitrate would be absurd for real video.
//!
//! References: ITU-T H.264 (08/2021) §7.3 (syntax), §7.4.2.1.1 (SPS), §9.1 (Exp-Golomb).

/// A YUV 4:2:0 picture whose width and height are multiples of 16.
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl Picture {
    pub fn new(width: usize, height: usize) -> Picture {
        assert!(
            width.is_multiple_of(16) && height.is_multiple_of(16) && width > 0 && height > 0,
            "size in whole macroblocks"
        );
        Picture {
            width,
            height,
            y: vec![16; width * height],
            u: vec![128; width * height / 4],
            v: vec![128; width * height / 4],
        }
    }

    fn mb_equal(&self, other: &Picture, mx: usize, my: usize) -> bool {
        let w = self.width;
        (0..16).all(|r| {
            let i = (my * 16 + r) * w + mx * 16;
            self.y[i..i + 16] == other.y[i..i + 16]
        }) && (0..8).all(|r| {
            let i = (my * 8 + r) * (w / 2) + mx * 8;
            self.u[i..i + 8] == other.u[i..i + 8] && self.v[i..i + 8] == other.v[i..i + 8]
        })
    }
}

/// Writes the bits of one RBSP (raw byte sequence payload).
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    acc: u8,
    n: u8,
}

impl Bits {
    fn bit(&mut self, b: bool) {
        self.acc = (self.acc << 1) | u8::from(b);
        self.n += 1;
        if self.n == 8 {
            self.bytes.push(self.acc);
            self.acc = 0;
            self.n = 0;
        }
    }

    /// u(n): `n` bits, most significant first.
    fn u(&mut self, n: u32, v: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }

    /// ue(v): unsigned Exp-Golomb.
    fn ue(&mut self, v: u32) {
        let x = v + 1;
        let len = 32 - x.leading_zeros();
        self.u(len - 1, 0);
        self.u(len, x);
    }

    /// se(v): signed Exp-Golomb.
    fn se(&mut self, v: i32) {
        let k = if v > 0 { 2 * v as u32 - 1 } else { 2 * v.unsigned_abs() };
        self.ue(k);
    }

    fn aligned(&self) -> bool {
        self.n == 0
    }

    fn align_zero(&mut self) {
        while !self.aligned() {
            self.bit(false);
        }
    }

    /// Aligned bytes (PCM samples).
    fn raw(&mut self, data: &[u8]) {
        debug_assert!(self.aligned());
        self.bytes.extend_from_slice(data);
    }

    /// rbsp_trailing_bits: a stop bit, then zeros to the byte boundary.
    fn finish(mut self) -> Vec<u8> {
        self.bit(true);
        self.align_zero();
        self.bytes
    }
}

/// A NAL unit: the header byte, then the RBSP with emulation prevention (§7.4.1.1): no
/// 0x000000-0x000003 may appear inside, so a 0x03 is inserted after two zero bytes.
fn nal(header: u8, rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 64 + 1);
    out.push(header);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

const LOG2_MAX_FRAME_NUM: u32 = 8;

pub struct Encoder {
    width: usize,
    height: usize,
    fps: u32,
    previous: Option<Picture>,
    frame_num: u32,
    idr_id: u32,
}

/// One encoded picture: its NAL units (without start codes) and whether it is a key frame.
pub struct AccessUnit {
    pub nals: Vec<Vec<u8>>,
    pub key: bool,
}

impl Encoder {
    pub fn new(width: usize, height: usize, fps: u32) -> Encoder {
        Encoder { width, height, fps, previous: None, frame_num: 0, idr_id: 0 }
    }

    /// `profile_idc`, constraint flags and `level_idc`, as `sprop`/RFC 6381 want them.
    pub fn profile_level_id(&self) -> [u8; 3] {
        [66, 0xc0, self.level()]
    }

    fn level(&self) -> u8 {
        // Level 3.0 holds 1,620 macroblocks a frame (720x576); 3.1 holds 3,600 (1280x720).
        if (self.width / 16) * (self.height / 16) <= 1620 { 30 } else { 31 }
    }

    pub fn sps(&self) -> Vec<u8> {
        let mut b = Bits::default();
        let [profile, constraints, level] = self.profile_level_id();
        b.u(8, profile.into());
        b.u(8, constraints.into()); // Constrained Baseline
        b.u(8, level.into());
        b.ue(0); // seq_parameter_set_id
        b.ue(LOG2_MAX_FRAME_NUM - 4);
        b.ue(2); // pic_order_cnt_type 2: output order is decoding order
        b.ue(1); // max_num_ref_frames
        b.bit(false); // gaps_in_frame_num_value_allowed_flag
        b.ue((self.width / 16 - 1) as u32);
        b.ue((self.height / 16 - 1) as u32);
        b.bit(true); // frame_mbs_only_flag
        b.bit(true); // direct_8x8_inference_flag
        b.bit(false); // frame_cropping_flag
        b.bit(true); // vui_parameters_present_flag
        b.bit(false); // aspect_ratio_info_present_flag
        b.bit(false); // overscan_info_present_flag
        b.bit(false); // video_signal_type_present_flag
        b.bit(false); // chroma_loc_info_present_flag
        b.bit(true); // timing_info_present_flag
        b.u(32, 1); // num_units_in_tick
        b.u(32, 2 * self.fps); // time_scale: two ticks a frame
        b.bit(true); // fixed_frame_rate_flag
        b.bit(false); // nal_hrd_parameters_present_flag
        b.bit(false); // vcl_hrd_parameters_present_flag
        b.bit(false); // pic_struct_present_flag
        // Bitstream restriction: no reordering, one frame of buffer, so decoders output
        // each picture at once instead of holding a DPB's worth (latency).
        b.bit(true);
        b.bit(true); // motion_vectors_over_pic_boundaries_flag
        b.ue(0); // max_bytes_per_pic_denom
        b.ue(0); // max_bits_per_mb_denom
        b.ue(10); // log2_max_mv_length_horizontal
        b.ue(10); // log2_max_mv_length_vertical
        b.ue(0); // max_num_reorder_frames
        b.ue(1); // max_dec_frame_buffering
        nal(0x67, &b.finish())
    }

    pub fn pps(&self) -> Vec<u8> {
        let mut b = Bits::default();
        b.ue(0); // pic_parameter_set_id
        b.ue(0); // seq_parameter_set_id
        b.bit(false); // entropy_coding_mode_flag: CAVLC
        b.bit(false); // bottom_field_pic_order_in_frame_present_flag
        b.ue(0); // num_slice_groups_minus1
        b.ue(0); // num_ref_idx_l0_default_active_minus1
        b.ue(0); // num_ref_idx_l1_default_active_minus1
        b.bit(false); // weighted_pred_flag
        b.u(2, 0); // weighted_bipred_idc
        b.se(0); // pic_init_qp_minus26
        b.se(0); // pic_init_qs_minus26
        b.se(0); // chroma_qp_index_offset
        b.bit(true); // deblocking_filter_control_present_flag
        b.bit(false); // constrained_intra_pred_flag
        b.bit(false); // redundant_pic_cnt_present_flag
        nal(0x68, &b.finish())
    }

    /// Encodes `pic`; a key frame (IDR, with SPS and PPS in front) when `key` or when there
    /// is no previous picture to refer to.
    pub fn encode(&mut self, pic: &Picture, key: bool) -> AccessUnit {
        assert!(pic.width == self.width && pic.height == self.height, "picture size changed");
        let key = key || self.previous.is_none();
        if key {
            self.frame_num = 0;
            self.idr_id = (self.idr_id + 1) % 2;
        } else {
            self.frame_num = (self.frame_num + 1) % (1 << LOG2_MAX_FRAME_NUM);
        }
        let mut b = Bits::default();
        b.ue(0); // first_mb_in_slice
        b.ue(if key { 7 } else { 5 }); // slice_type: I or P, every slice of the picture
        b.ue(0); // pic_parameter_set_id
        b.u(LOG2_MAX_FRAME_NUM, self.frame_num);
        if key {
            b.ue(self.idr_id); // idr_pic_id: differs between consecutive IDRs
        } else {
            b.bit(false); // num_ref_idx_active_override_flag
            b.bit(false); // ref_pic_list_modification_flag_l0
        }
        // dec_ref_pic_marking: IDR no_output_of_prior_pics + long_term_reference, or
        // adaptive_ref_pic_marking_mode_flag (sliding window).
        if key {
            b.bit(false);
            b.bit(false);
        } else {
            b.bit(false);
        }
        b.se(0); // slice_qp_delta
        b.ue(1); // disable_deblocking_filter_idc: off, raw samples stay raw
        let (mbs_x, mbs_y) = (self.width / 16, self.height / 16);
        let mut skipped = 0u32;
        for my in 0..mbs_y {
            for mx in 0..mbs_x {
                if !key && self.previous.as_ref().is_some_and(|p| p.mb_equal(pic, mx, my)) {
                    skipped += 1;
                    continue;
                }
                if !key {
                    b.ue(skipped); // mb_skip_run
                    skipped = 0;
                }
                b.ue(if key { 25 } else { 30 }); // mb_type I_PCM (5 + 25 in a P slice)
                b.align_zero(); // pcm_alignment_zero_bit
                write_pcm(&mut b, pic, mx, my);
            }
        }
        if skipped > 0 {
            b.ue(skipped);
        }
        let slice = nal(if key { 0x65 } else { 0x41 }, &b.finish());
        self.previous = Some(pic.clone());
        let nals = if key { vec![self.sps(), self.pps(), slice] } else { vec![slice] };
        AccessUnit { nals, key }
    }
}

fn write_pcm(b: &mut Bits, pic: &Picture, mx: usize, my: usize) {
    let w = pic.width;
    for r in 0..16 {
        let i = (my * 16 + r) * w + mx * 16;
        b.raw(&pic.y[i..i + 16]);
    }
    for plane in [&pic.u, &pic.v] {
        for r in 0..8 {
            let i = (my * 8 + r) * (w / 2) + mx * 8;
            b.raw(&plane[i..i + 8]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(f: impl FnOnce(&mut Bits)) -> Vec<u8> {
        let mut b = Bits::default();
        f(&mut b);
        b.finish()
    }

    #[test]
    fn exp_golomb() {
        // ue: 0 → 1, 1 → 010, 2 → 011, 3 → 00100; then the stop bit.
        assert_eq!(bits(|b| b.ue(0)), [0b1100_0000]);
        assert_eq!(bits(|b| b.ue(1)), [0b0101_0000]);
        assert_eq!(bits(|b| b.ue(3)), [0b0010_0100]);
        // se: 1 → 010, -1 → 011.
        assert_eq!(bits(|b| b.se(1)), [0b0101_0000]);
        assert_eq!(bits(|b| b.se(-1)), [0b0111_0000]);
    }

    #[test]
    fn emulation_prevention() {
        assert_eq!(nal(0x65, &[0, 0, 1, 0, 0, 0, 0, 0, 4]), [0x65, 0, 0, 3, 1, 0, 0, 3, 0, 0, 3, 0, 4]);
    }

    #[test]
    fn unchanged_pictures_cost_a_few_bytes() {
        let mut enc = Encoder::new(64, 48, 15);
        let pic = Picture::new(64, 48);
        let key = enc.encode(&pic, false);
        assert!(key.key);
        assert_eq!(key.nals.len(), 3);
        assert!(key.nals[2].len() > 12 * 384);
        let same = enc.encode(&pic, false);
        assert!(!same.key);
        assert!(same.nals[0].len() < 16);
        let mut moved = pic.clone();
        moved.y[0] = 200;
        let one = enc.encode(&moved, false);
        assert!(one.nals[0].len() > 384 && one.nals[0].len() < 2 * 384);
    }
}
