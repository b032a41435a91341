//! The built-in demo sites: a head office, a warehouse and a shop, each with cameras, a
//! siren, a light and an electric lock. The demo, the CLI and the tests all use these.

use crate::camera::StreamSpec;
use crate::site::SiteSpec;
use mimamori_protocol::role::Role;
use mimamori_protocol::{
    ArmState, CameraEntry, Catalog, OutputEntry, OutputKind, OutputValue, VERSION, Zone,
};
use std::collections::BTreeMap;

/// Port the simulated cameras are served on unless told otherwise (`mimamori-sim
/// --cameras`); the in-process demo picks a free one.
pub const CAMERA_PORT: u16 = 8554;
/// The broker user the app and the CLI connect to the demo as: an admin of every demo site.
pub const DEMO_USER: &str = "demo";

/// Main and sub stream sizes and pace of every simulated camera.
const MAIN: (usize, usize) = (640, 352);
const SUB: (usize, usize) = (320, 176);
const FPS: u32 = 15;

/// Seconds from one key frame to the next in the simulated cameras: 2, as many cameras
/// ship, unless `MIMAMORI_DEMO_GOP` says otherwise (1 to 10; the switch benchmark runs the
/// demo at 1 s and 4 s).
pub fn gop_seconds() -> u32 {
    const DEFAULT: u32 = 2;
    match std::env::var("MIMAMORI_DEMO_GOP") {
        Err(_) => DEFAULT,
        Ok(v) => match v.parse::<u32>() {
            Ok(s) if (1..=10).contains(&s) => s,
            _ => {
                tracing::warn!("MIMAMORI_DEMO_GOP must be 1 to 10 seconds; using {DEFAULT}");
                DEFAULT
            }
        },
    }
}

struct Plan {
    id: &'static str,
    name: &'static str,
    armed: ArmState,
    zones: &'static [(&'static str, &'static str)],
    /// (camera id, name, zone id)
    cameras: &'static [(&'static str, &'static str, &'static str)],
}

const PLANS: &[Plan] = &[
    Plan {
        id: "hq",
        name: "本社",
        armed: ArmState::Disarmed,
        zones: &[("lobby", "ロビー"), ("office", "事務所"), ("server", "サーバー室"), ("parking", "駐車場")],
        cameras: &[
            ("entrance", "正面玄関", "lobby"),
            ("reception", "受付", "lobby"),
            ("office-east", "事務所 東", "office"),
            ("office-west", "事務所 西", "office"),
            ("server-room", "サーバー室", "server"),
            ("parking", "駐車場", "parking"),
        ],
    },
    Plan {
        id: "warehouse",
        name: "倉庫",
        armed: ArmState::Armed,
        zones: &[("dock", "搬入口"), ("racks", "保管エリア"), ("yard", "屋外")],
        cameras: &[
            ("dock-1", "搬入口 1", "dock"),
            ("dock-2", "搬入口 2", "dock"),
            ("racks-a", "棚 A", "racks"),
            ("racks-b", "棚 B", "racks"),
            ("racks-c", "棚 C", "racks"),
            ("forklift", "フォークリフト置場", "racks"),
            ("gate", "正門", "yard"),
            ("fence", "外周フェンス", "yard"),
        ],
    },
    Plan {
        id: "shop",
        name: "店舗",
        armed: ArmState::Partial,
        zones: &[("floor", "売り場"), ("back", "バックヤード")],
        cameras: &[
            ("register", "レジ", "floor"),
            ("floor", "売り場", "floor"),
            ("stock", "倉庫室", "back"),
            ("back-door", "裏口", "back"),
        ],
    },
];

/// Every demo site, its cameras on [`CAMERA_PORT`].
pub fn sites() -> Vec<SiteSpec> {
    sites_with_cameras(CAMERA_PORT)
}

/// Every demo site, its cameras served on `camera_port`.
pub fn sites_with_cameras(camera_port: u16) -> Vec<SiteSpec> {
    PLANS.iter().map(|p| spec(p, camera_port)).collect()
}

/// One demo site by id.
pub fn site(id: &str) -> Option<SiteSpec> {
    PLANS.iter().find(|p| p.id == id).map(|p| spec(p, CAMERA_PORT))
}

/// The simulated camera streams of these sites (main and sub of each camera), to serve
/// with [`crate::camera::CameraServer`].
pub fn camera_streams(sites: &[SiteSpec]) -> Vec<StreamSpec> {
    let gop = gop_seconds() * FPS;
    let mut out = vec![];
    for site in sites {
        for cam in &site.catalog.cameras {
            for (kind, (width, height)) in [("main", MAIN), ("sub", SUB)] {
                out.push(StreamSpec {
                    path: format!("{}/{}/{kind}", site.id, cam.id),
                    label: format!("{}/{}", site.id, cam.id),
                    width,
                    height,
                    fps: FPS,
                    gop,
                });
            }
        }
    }
    out
}

fn spec(plan: &Plan, camera_port: u16) -> SiteSpec {
    let cam_url =
        |cam: &str, stream: &str| format!("rtsp://127.0.0.1:{camera_port}/{}/{cam}/{stream}", plan.id);
    let catalog = Catalog {
        v: VERSION,
        name: plan.name.to_owned(),
        time_zone: "Asia/Tokyo".to_owned(),
        supervision_s: 30,
        armable: true,
        role_table: true,
        zones: plan
            .zones
            .iter()
            .map(|(id, name)| Zone { id: (*id).to_owned(), name: (*name).to_owned() })
            .collect(),
        cameras: plan
            .cameras
            .iter()
            .map(|(id, name, zone)| CameraEntry {
                id: (*id).to_owned(),
                name: (*name).to_owned(),
                zone: Some((*zone).to_owned()),
                main: cam_url(id, "main"),
                sub: Some(cam_url(id, "sub")),
                snapshot: Some(format!("http://127.0.0.1:{camera_port}/{}/{id}/snapshot.jpg", plan.id)),
            })
            .collect(),
        outputs: vec![
            OutputEntry { id: "siren".to_owned(), kind: OutputKind::Siren, name: "サイレン".to_owned() },
            OutputEntry { id: "light".to_owned(), kind: OutputKind::Light, name: "照明".to_owned() },
            OutputEntry { id: "door".to_owned(), kind: OutputKind::Lock, name: "電気錠".to_owned() },
        ],
    };
    let outputs = BTreeMap::from([
        ("siren".to_owned(), OutputValue::Off),
        ("light".to_owned(), OutputValue::Off),
        ("door".to_owned(), OutputValue::Locked),
    ]);
    SiteSpec { id: plan.id.to_owned(), catalog, outputs, armed: plan.armed }
}

/// The whole demo running in this process: the embedded broker and every demo site.
pub struct Demo {
    pub broker: mimamori_core::bus::BrokerAddress,
    pub sites: Vec<crate::SimSite>,
    pub cameras: crate::camera::CameraServer,
}

impl Demo {
    /// Starts the embedded broker on `port` (0: any free one) and the demo sites on it.
    /// Must run inside a Tokio runtime.
    pub fn start(port: u16) -> anyhow::Result<Demo> {
        let broker = crate::broker::start(port)?.address;
        let specs = sites();
        let cameras = crate::camera::CameraServer::start(0, camera_streams(&specs))?;
        // Something happens now and then at each site, at different paces.
        let sites = sites_with_cameras(cameras.port)
            .into_iter()
            .zip([47, 61, 73])
            .map(|(spec, every)| {
                // The demo's user is an admin of every site.
                let mut config = crate::SimConfig::new(broker.clone()).grant(DEMO_USER, Role::Admin);
                config.alert_every = Some(std::time::Duration::from_secs(every));
                crate::SimSite::start(spec, config)
            })
            .collect();
        Ok(Demo { broker, sites, cameras })
    }

    pub fn site_ids(&self) -> Vec<String> {
        self.sites.iter().map(|s| s.id().to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_catalogs_are_valid_protocol() {
        let sites = super::sites();
        assert_eq!(sites.len(), 3);
        for s in sites {
            mimamori_protocol::validate_catalog(&s.catalog).unwrap();
            assert!((4..=8).contains(&s.catalog.cameras.len()));
        }
    }
}
