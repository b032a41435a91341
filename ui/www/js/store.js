// The UI's state in one object, replaced (never mutated) on every change, with
// subscribers. Views read it; only sync.js and the user's actions write it.

/**
 * @typedef {import('./types.js').AppInfo} AppInfo
 * @typedef {import('./types.js').ConnectionStatus} ConnectionStatus
 * @typedef {import('./types.js').BusStats} BusStats
 * @typedef {import('./types.js').SiteSummary} SiteSummary
 * @typedef {import('./types.js').SiteView} SiteView
 * @typedef {import('./types.js').IpcError} IpcError
 * @typedef {import('./types.js').ProfileSummary} ProfileSummary
 * @typedef {import('./types.js').AlertView} AlertView
 * @typedef {import('./i18n.js').Lang} Lang
 * @typedef {import('./theme.js').Theme} Theme
 * @typedef {'sites' | 'alerts' | 'settings'} Tab
 */

/**
 * The enrolment form's request. The code and the PIN are never kept here: they live only
 * in the form's inputs until it is submitted (views/enrol-form.js).
 * @typedef {object} Enrolment
 * @property {boolean} busy an `enrol` call is running
 * @property {IpcError | null} error why the last one failed
 * @property {ProfileSummary | null} result what the last one enrolled, until dismissed
 */

/**
 * A profile whose removal was asked for: the confirm step shows until it is confirmed
 * (busy, then gone) or cancelled.
 * @typedef {object} Removal
 * @property {string} profileId
 * @property {boolean} busy
 * @property {IpcError | null} error
 */

/**
 * @typedef {object} State
 * @property {boolean} available whether the page runs inside the app
 * @property {AppInfo | null} info
 * @property {ConnectionStatus | null} connection null until first read
 * @property {BusStats | null} stats
 * @property {SiteSummary[] | null} sites sorted; null until first read
 * @property {IpcError | null} sitesError
 * @property {string | null} openSiteId the site whose page is open
 * @property {SiteView | null} site that site's view, once read (always for openSiteId)
 * @property {IpcError | null} siteError
 * @property {string | null} openCameraId the camera of the open site shown full screen
 * @property {{ cameraId: string, fromMs: number, markMs: number } | null} moment where the
 *   camera opened from an alert starts: in its memory, a few seconds before the alert
 * @property {import('./types.js').ClipInfo[] | null} clips the saved clips, read with Settings
 * @property {import('./types.js').SiteControls | null} controls what the user may do at the open site
 * @property {import('./control.js').Sending | null} sending the last command sent, its progress and outcome
 * @property {string | null} confirming the command (control key) waiting for its confirming second tap
 * @property {import('./types.js').PinStatus | null} pin the app PIN's state, read when a confirmation starts
 * @property {ProfileSummary[] | null} profiles what this device is enrolled for; null until first read
 * @property {IpcError | null} profilesError
 * @property {AlertView[] | null} alerts the stored alerts, newest first; null until first read
 * @property {IpcError | null} alertsError why the last read of the alerts failed
 * @property {import('./types.js').PossibleGap[]} gaps what sites could not replay: possible gaps
 * @property {{ siteId: string, alertId: string } | null} acking the alert whose acknowledgement form is open
 * @property {import('./control.js').Sending | null} ackSending the last acknowledgement, its progress and outcome
 * @property {AlertView | null} banner a new alert shown on top while the app is in front
 * @property {import('./alerts.js').AlertFilter} alertFilter what the inbox shows
 * @property {import('./types.js').BackgroundStatus | null} background tray and start at login, read with Settings
 * @property {{ set: import('./types.js').QuietHoursSetting | null, error: string | null } | null} quiet the quiet hours, read with Settings
 * @property {import('./types.js').AuditLogView | null} audit the audit log, read with Settings
 * @property {Enrolment} enrolment
 * @property {Removal | null} removal
 * @property {Tab} tab
 * @property {string} filter the text typed into the site search
 * @property {Lang} lang
 * @property {Theme} theme
 */

/**
 * @typedef {object} Store
 * @property {() => State} get
 * @property {(patch: Partial<State>) => void} set
 * @property {(cb: (state: State) => void) => () => void} subscribe
 */

/**
 * @param {State} initial
 * @returns {Store}
 */
export function createStore(initial) {
  let state = initial;
  /** @type {Set<(state: State) => void>} */
  const subscribers = new Set();
  return {
    get: () => state,
    set(patch) {
      state = { ...state, ...patch };
      for (const cb of subscribers) cb(state);
    },
    subscribe(cb) {
      subscribers.add(cb);
      return () => subscribers.delete(cb);
    },
  };
}
