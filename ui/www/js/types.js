// One place that names the IPC types for the JSDoc of the other modules. The shapes are
// generated from the Rust structs into ui/bindings/ (ts-rs); never restate them here.

/** @typedef {import('../../bindings/SiteSummary').SiteSummary} SiteSummary */
/** @typedef {import('../../bindings/SiteView').SiteView} SiteView */
/** @typedef {import('../../bindings/SiteLink').SiteLink} SiteLink */
/** @typedef {import('../../bindings/ArmState').ArmState} ArmState */
/** @typedef {import('../../bindings/CameraView').CameraView} CameraView */
/** @typedef {import('../../bindings/CameraHealth').CameraHealth} CameraHealth */
/** @typedef {import('../../bindings/OutputView').OutputView} OutputView */
/** @typedef {import('../../bindings/OutputKind').OutputKind} OutputKind */
/** @typedef {import('../../bindings/OutputValue').OutputValue} OutputValue */
/** @typedef {import('../../bindings/ConnectionStatus').ConnectionStatus} ConnectionStatus */
/** @typedef {import('../../bindings/ConnectionPhase').ConnectionPhase} ConnectionPhase */
/** @typedef {import('../../bindings/ConnectionProblem').ConnectionProblem} ConnectionProblem */
/** @typedef {import('../../bindings/BusStats').BusStats} BusStats */
/** @typedef {import('../../bindings/BusChange').BusChange} BusChange */
/** @typedef {import('../../bindings/AppInfo').AppInfo} AppInfo */
/** @typedef {import('../../bindings/ProfileConnection').ProfileConnection} ProfileConnection */
/** @typedef {import('../../bindings/AlertView').AlertView} AlertView */
/** @typedef {import('../../bindings/PossibleGap').PossibleGap} PossibleGap */
/** @typedef {import('../../bindings/OpenAlert').OpenAlert} OpenAlert */
/** @typedef {import('../../bindings/BackgroundStatus').BackgroundStatus} BackgroundStatus */
/** @typedef {import('../../bindings/QuietHoursSetting').QuietHoursSetting} QuietHoursSetting */
/** @typedef {import('../../bindings/AuditLogView').AuditLogView} AuditLogView */
/** @typedef {import('../../bindings/AlertKind').AlertKind} AlertKind */
/** @typedef {import('../../bindings/ProfileSummary').ProfileSummary} ProfileSummary */
/** @typedef {import('../../bindings/ProfileSite').ProfileSite} ProfileSite */
/** @typedef {import('../../bindings/Role').Role} Role */
/** @typedef {import('../../bindings/IpcError').IpcError} IpcError */
/** @typedef {import('../../bindings/ErrorKind').ErrorKind} ErrorKind */
/** @typedef {import('../../bindings/StreamStatus').StreamStatus} StreamStatus */
/** @typedef {import('../../bindings/StreamPhase').StreamPhase} StreamPhase */
/** @typedef {import('../../bindings/StreamProblem').StreamProblem} StreamProblem */
/** @typedef {import('../../bindings/StreamQuality').StreamQuality} StreamQuality */
/** @typedef {import('../../bindings/CameraStream').CameraStream} CameraStream */
/** @typedef {import('../../bindings/SiteControls').SiteControls} SiteControls */
/** @typedef {import('../../bindings/Outcome').Outcome} Outcome */
/** @typedef {import('../../bindings/PinStatus').PinStatus} PinStatus */
/** @typedef {import('../../bindings/ClipInfo').ClipInfo} ClipInfo */

export {};
