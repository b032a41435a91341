// The only module that talks to the Rust side: one typed function per IPC command, and
// the `bus-change` subscription. Every failure reaches callers as an IpcError
// `{ kind, message }`, so views branch on `kind` and never parse strings.

/**
 * @typedef {import('./types.js').SiteSummary} SiteSummary
 * @typedef {import('./types.js').SiteView} SiteView
 * @typedef {import('./types.js').ConnectionStatus} ConnectionStatus
 * @typedef {import('./types.js').BusStats} BusStats
 * @typedef {import('./types.js').AppInfo} AppInfo
 * @typedef {import('./types.js').ProfileSummary} ProfileSummary
 * @typedef {import('./types.js').AlertView} AlertView
 * @typedef {import('./types.js').PossibleGap} PossibleGap
 * @typedef {import('./types.js').OpenAlert} OpenAlert
 * @typedef {import('./types.js').BackgroundStatus} BackgroundStatus
 * @typedef {import('./types.js').QuietHoursSetting} QuietHoursSetting
 * @typedef {import('./types.js').AuditLogView} AuditLogView
 * @typedef {import('./types.js').BusChange} BusChange
 * @typedef {import('./types.js').IpcError} IpcError
 * @typedef {import('./types.js').ErrorKind} ErrorKind
 * @typedef {import('./types.js').StreamQuality} StreamQuality
 * @typedef {import('./types.js').CameraStream} CameraStream
 * @typedef {import('./types.js').SiteControls} SiteControls
 * @typedef {import('./types.js').Outcome} Outcome
 * @typedef {import('./types.js').PinStatus} PinStatus
 * @typedef {import('./types.js').ClipInfo} ClipInfo
 */

/** @type {readonly ErrorKind[]} */
const KINDS = ['NotFound', 'InvalidInput', 'Unauthenticated', 'PermissionDenied', 'Unavailable', 'Timeout', 'Internal'];

/** The message used when the page was opened outside the Tauri shell (e.g. in a browser). */
export const NO_APP_MESSAGE = 'not running inside the app';

/** True when the Tauri globals exist, i.e. the page runs inside the app. */
export function isAvailable() {
  return globalThis.__TAURI__ !== undefined;
}

/**
 * Turns whatever a rejected `invoke`/`listen` gave us into an IpcError. Commands reject
 * with `{ kind, message }`; Tauri itself rejects with a plain string (e.g. a command that
 * a capability does not grant), and a JS bug rejects with an Error.
 * @param {unknown} e
 * @returns {IpcError}
 */
export function toIpcError(e) {
  if (typeof e === 'string') return { kind: 'Internal', message: e };
  if (typeof e === 'object' && e !== null && 'message' in e && typeof e.message === 'string') {
    const kind = 'kind' in e && KINDS.includes(/** @type {ErrorKind} */ (e.kind)) ? /** @type {ErrorKind} */ (e.kind) : 'Internal';
    return { kind, message: e.message };
  }
  return { kind: 'Internal', message: String(e) };
}

/** @returns {TauriGlobal} */
function tauri() {
  const t = globalThis.__TAURI__;
  if (t === undefined) throw /** @type {IpcError} */ ({ kind: 'Unavailable', message: NO_APP_MESSAGE });
  return t;
}

/**
 * @template T
 * @param {string} cmd
 * @param {Record<string, unknown>} [args]
 * @returns {Promise<T>}
 */
async function call(cmd, args) {
  try {
    return await tauri().core.invoke(cmd, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

/** @returns {Promise<SiteSummary[]>} */
export const listSites = () => call('list_sites');

/**
 * @param {string} siteId
 * @returns {Promise<SiteView>}
 */
export const getSite = (siteId) => call('get_site', { siteId });

/** @returns {Promise<ConnectionStatus>} */
export const connectionStatus = () => call('connection_status');

/** @returns {Promise<BusStats>} */
export const busStats = () => call('bus_stats');

/** @returns {Promise<AppInfo>} */
export const appInfo = () => call('app_info');

/** @returns {Promise<ProfileSummary[]>} */
export const listProfiles = () => call('list_profiles');

/**
 * The stored alerts of every site, newest first.
 * @param {number} limit how many at most, 1–500
 * @returns {Promise<AlertView[]>}
 */
export const listAlerts = (limit) => call('list_alerts', { limit });

/**
 * What sites said they no longer have (a replay could not recover it), newest first.
 * @returns {Promise<PossibleGap[]>}
 */
export const possibleGaps = () => call('possible_gaps');

/**
 * The thumbnail of the picture an alert came with, as JPEG bytes.
 * @param {string} siteId
 * @param {string} alertId
 * @returns {Promise<ArrayBuffer>}
 */
export const alertPicture = (siteId, alertId) => call('alert_picture', { siteId, alertId });

/**
 * Acknowledges an alert for every user of its site, with an optional note. `done` once
 * the broker took it; the site's update then marks it acknowledged everywhere.
 * @param {string} siteId
 * @param {string} alertId
 * @param {string | null} note
 * @returns {Promise<Outcome>}
 */
export const acknowledgeAlert = (siteId, alertId, note) => call('acknowledge_alert', { siteId, alertId, note });

/**
 * Opens an enrolment code (or a `mimamori://enroll?code=…` link) with its PIN and stores
 * what it carries in the OS keychain. Answers only with what was enrolled; on success the
 * core switches to the new profile and sends `resync`.
 * @param {string} code
 * @param {string} pin
 * @returns {Promise<ProfileSummary>}
 */
export const enrol = (code, pin) => call('enrol', { code, pin });

/**
 * Deletes a profile: its keychain entry first, then its settings. The core then switches
 * to another profile (or none) and sends `resync`.
 * @param {string} profileId
 * @returns {Promise<null>}
 */
export const removeProfile = (profileId) => call('remove_profile', { profileId });

/**
 * Calls `cb` with every `bus-change` payload until the returned function is called.
 * @param {(change: BusChange) => void} cb
 * @returns {Promise<() => void>}
 */
export async function onBusChange(cb) {
  try {
    return await tauri().event.listen('bus-change', (event) => cb(/** @type {BusChange} */ (event.payload)));
  } catch (e) {
    throw toIpcError(e);
  }
}

/**
 * Calls `cb` whenever the app was opened with an enrolment link (read it with
 * `takeEnrolLink`), until the returned function is called.
 * @param {() => void} cb
 * @returns {Promise<() => void>}
 */
export async function onEnrolLink(cb) {
  try {
    return await tauri().event.listen('enrol-link', () => cb());
  } catch (e) {
    throw toIpcError(e);
  }
}

/** @returns {Promise<string | null>} the enrolment link the app was opened with, once */
export const takeEnrolLink = () => call('take_enrol_link');

/**
 * Calls `cb` with the alert of every clicked OS notification (the core has already brought
 * the window to the front) until the returned function is called.
 * @param {(alert: OpenAlert) => void} cb
 * @returns {Promise<() => void>}
 */
export async function onOpenAlert(cb) {
  try {
    return await tauri().event.listen('open-alert', (event) => cb(/** @type {OpenAlert} */ (event.payload)));
  } catch (e) {
    throw toIpcError(e);
  }
}

/**
 * Starts a camera's video: `onMessage` gets every binary message of the player's channel
 * (init segment, fragments, stream state; see player.js). Live, or from the camera's
 * memory at `fromMs` (wall clock) on. Answers with the player id for `closeStream`. The
 * camera is named by ids only.
 * @param {string} siteId
 * @param {string} cameraId
 * @param {StreamQuality} quality
 * @param {(message: ArrayBuffer) => void} onMessage
 * @param {number | null} [fromMs]
 * @returns {Promise<number>}
 */
export async function openStream(siteId, cameraId, quality, onMessage, fromMs = null) {
  /** @type {TauriChannel<ArrayBuffer>} */
  let channel;
  try {
    channel = new (tauri().core.Channel)();
  } catch (e) {
    throw toIpcError(e);
  }
  channel.onmessage = onMessage;
  return call('open_stream', { siteId, cameraId, quality, channel, fromMs });
}

/**
 * @param {number} playerId
 * @returns {Promise<boolean>}
 */
export const closeStream = (playerId) => call('close_stream', { playerId });

/**
 * Stops sending a player's stream while it cannot be seen; the stream stays open until
 * `closeStream`.
 * @param {number} playerId
 * @returns {Promise<boolean>}
 */
export const suspendStream = (playerId) => call('suspend_stream', { playerId });

/**
 * A camera's current picture, as JPEG bytes at tile size (from its snapshot endpoint,
 * checked and re-encoded by the core).
 * @param {string} siteId
 * @param {string} cameraId
 * @returns {Promise<ArrayBuffer>}
 */
export const getSnapshot = (siteId, cameraId) => call('get_snapshot', { siteId, cameraId });

/**
 * Keeps the streams the user is likely to open next warm, so that opening them is
 * instant (at most four; replaces the previous set).
 * @param {CameraStream[]} streams
 * @returns {Promise<null>}
 */
export const warmStreams = (streams) => call('warm_streams', { streams });

/**
 * What this device's user may do at a site: per output the allowed actions, and arming.
 * @param {string} siteId
 * @returns {Promise<SiteControls>}
 */
export const siteControls = (siteId) => call('site_controls', { siteId });

/**
 * Switches an output (`on`, `off`, `lock`, `unlock`; `pulse` with seconds). The core checks
 * the role, writes the audit log, and answers with the site's outcome.
 * @param {string} siteId
 * @param {string} outputId
 * @param {string} action
 * @param {string | null} [note]
 * @returns {Promise<Outcome>}
 */
export const setOutput = (siteId, outputId, action, note = null) => call('set_output', { siteId, outputId, action, seconds: null, note });

/**
 * Arms or disarms a site (`arm`, `arm_partial`, `disarm`).
 * @param {string} siteId
 * @param {string} action
 * @param {string | null} [note]
 * @returns {Promise<Outcome>}
 */
export const setArming = (siteId, action, note = null) => call('set_arming', { siteId, action, note });

/** @returns {Promise<PinStatus>} */
export const pinStatus = () => call('pin_status');

/**
 * Sets the app PIN on first use (`first`), or proves it; commands that lower protection
 * (unlock, disarm, silence) need a proof of the last two minutes.
 * @param {string} pin
 * @param {boolean} first
 * @returns {Promise<null>}
 */
export const confirmPin = (pin, first) => call('confirm_pin', { pin, first });

/**
 * How the app runs in the background: tray icon, start at login.
 * @returns {Promise<BackgroundStatus>}
 */
export const backgroundStatus = () => call('background_status');

/**
 * Starts the app (hidden, in the tray) at login, or not.
 * @param {boolean} enabled
 * @returns {Promise<BackgroundStatus>}
 */
export const setStartAtLogin = (enabled) => call('set_start_at_login', { enabled });

/**
 * The quiet hours (minutes of the local day), or null when none are set.
 * @returns {Promise<QuietHoursSetting | null>}
 */
export const quietHours = () => call('quiet_hours');

/**
 * Sets (or, with null, clears) the quiet hours: non-critical alerts are not notified then.
 * @param {QuietHoursSetting | null} quiet
 * @returns {Promise<QuietHoursSetting | null>}
 */
export const setQuietHours = (quiet) => call('set_quiet_hours', { quiet });

/**
 * This device's audit log: whether its chain holds, and its newest records.
 * @param {number} limit 1–200
 * @returns {Promise<AuditLogView>}
 */
export const auditLog = (limit) => call('audit_log', { limit });

/**
 * Starts saving a clip of a camera: from `fromMs` (as far back as its memory reaches)
 * until `stopClip`. Answers with the clip's id.
 * @param {string} siteId
 * @param {string} cameraId
 * @param {number} fromMs
 * @returns {Promise<string>}
 */
export const startClip = (siteId, cameraId, fromMs) => call('start_clip', { siteId, cameraId, fromMs: Math.max(0, Math.round(fromMs)) });

/**
 * Stops a recording; answers with the saved clip.
 * @param {string} clipId
 * @returns {Promise<ClipInfo>}
 */
export const stopClip = (clipId) => call('stop_clip', { clipId });

/** @returns {Promise<ClipInfo[]>} the saved clips, newest first */
export const listClips = () => call('list_clips');

/**
 * @param {string} clipId
 * @returns {Promise<void>}
 */
export const deleteClip = (clipId) => call('delete_clip', { clipId });

/** The API as one object, so sync.js can be driven by a fake in tests. */
export const api = { listSites, getSite, connectionStatus, busStats, appInfo, listProfiles, listAlerts, possibleGaps, alertPicture, acknowledgeAlert, enrol, removeProfile, onBusChange, openStream, closeStream, suspendStream, getSnapshot, warmStreams, siteControls, setOutput, setArming, pinStatus, confirmPin, startClip, stopClip };

/** @typedef {typeof api} Api */
