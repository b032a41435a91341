// Shared by the UI's unit tests (not a test file itself).

/**
 * The state of a page that has read nothing yet.
 * @returns {import('../www/js/store.js').State}
 */
export const initialState = () => ({
  available: true, info: null, connection: null, stats: null, sites: null, sitesError: null,
  openSiteId: null, site: null, siteError: null, openCameraId: null, moment: null, clips: null, controls: null, sending: null, confirming: null, pin: null, profiles: null, profilesError: null, alerts: null, alertsError: null, gaps: [], acking: null, ackSending: null, banner: null, alertFilter: { site: '', kind: '', state: 'all' }, background: null, quiet: null, audit: null,
  enrolment: { busy: false, error: null, result: null }, removal: null, tab: 'sites', filter: '', lang: 'en', theme: 'dark',
});
