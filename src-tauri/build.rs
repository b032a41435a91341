fn main() {
    // Declaring the app's commands makes Tauri generate one `allow-<command>` permission
    // each; capabilities/main.json then grants exactly those the window uses.
    let mut commands = vec![
        "list_sites",
        "get_site",
        "connection_status",
        "bus_stats",
        "app_info",
        "list_profiles",
        "enrol",
        "remove_profile",
        "list_alerts",
        "possible_gaps",
        "alert_picture",
        "acknowledge_alert",
        "open_stream",
        "close_stream",
        "suspend_stream",
        "get_snapshot",
        "warm_streams",
        "site_controls",
        "set_output",
        "set_arming",
        "pin_status",
        "confirm_pin",
        "background_status",
        "set_start_at_login",
        "quiet_hours",
        "set_quiet_hours",
        "audit_log",
        "start_clip",
        "stop_clip",
        "list_clips",
        "delete_clip",
        "take_enrol_link",
    ];
    // The transport probe (src/probe.rs) exists only in benchmark builds.
    if std::env::var_os("CARGO_FEATURE_TRANSPORT_PROBE").is_some() {
        commands.extend(["transport_channel", "transport_fetch"]);
    }
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands.leak())),
    )
    .expect("tauri build step");
}
