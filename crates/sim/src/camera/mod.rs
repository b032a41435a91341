//! Simulated cameras: a synthetic scene, encoded to H.264 by a tiny built-in encoder and
//! served over RTSP, so the demo and the tests show real live video with no camera and no
//! external program.

pub mod h264;
pub mod rtsp;
pub mod scene;

pub use rtsp::{CameraServer, StreamSpec};
