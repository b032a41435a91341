// Starts the UI: lays out the page's persistent parts, connects the store to the core
// (sync.js) and re-renders the regions whose state changed, at most once per frame.

import { isAvailable, api, onEnrolLink, onOpenAlert, takeEnrolLink } from './api.js';
import { applyLanguage, language } from './i18n.js';
import { applyTheme, storedTheme } from './theme.js';
import { createStore } from './store.js';
import { createSync } from './sync.js';
import { createActions } from './actions.js';
import { installKeys } from './keys.js';
import { region, applyPendingFocus, focusAfterRender, holdRegionsDuringPress } from './render.js';
import { h } from './dom.js';
import { createConnectionBar } from './views/connection-bar.js';
import { header } from './views/header.js';
import { siteList, siteListDeps } from './views/site-list.js';
import { sitePage, sitePageDeps } from './views/site-page.js';
import { cameraView, cameraViewDeps } from './views/camera-view.js';
import { createPlayers } from './player.js';
import { nextCamera } from './sites.js';
import { alerts, alertsDeps } from './views/alerts.js';
import { about, clipsSection, settings } from './views/settings.js';
import { enrolmentSection, enrolmentSectionDeps } from './views/profiles.js';
import { createEnrolForm } from './views/enrol-form.js';
import { welcome, welcomeDeps } from './views/welcome.js';
import { noApp } from './views/no-app.js';
import { banner, bannerDeps } from './views/banner.js';
import { NO_FILTER, newAlerts } from './alerts.js';
import { isCriticalAlert } from './labels.js';
import { needsEnrolment } from './enrolment.js';

/** @typedef {import('./store.js').State} State */

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app');

applyLanguage();
applyTheme(storedTheme());

const store = createStore({
  available: isAvailable(),
  info: null,
  connection: null,
  stats: null,
  sites: null,
  sitesError: null,
  openSiteId: null,
  site: null,
  siteError: null,
  openCameraId: null,
  moment: null,
  clips: null,
  controls: null,
  sending: null,
  confirming: null,
  pin: null,
  profiles: null,
  profilesError: null,
  alerts: null,
  alertsError: null,
  gaps: [],
  acking: null,
  ackSending: null,
  banner: null,
  alertFilter: NO_FILTER,
  background: null,
  quiet: null,
  audit: null,
  enrolment: { busy: false, error: null, result: null },
  removal: null,
  tab: 'sites',
  filter: '',
  lang: language(),
  theme: storedTheme(),
});
const sync = createSync(api, store);
const actions = createActions(store, sync);

// The persistent skeleton; regions fill it.
const bar = createConnectionBar();
const headerEl = h('header', { class: 'header' });
// A new alert while the app is in front (an OS notification is asked for too).
const bannerEl = h('div', { class: 'banner-slot' });
const listEl = h('aside', { class: 'sites-column', testid: 'site-list' });
const pageEl = h('div', { class: 'site-pane' });
// Before enrolment, the Sites tab shows this instead of the (empty) list and the page.
const welcomeEl = h('div', { class: 'welcome-pane' });
// A camera full screen, over everything else of the Sites tab.
const cameraEl = h('div', { class: 'camera-layer' });
const sitesPanel = h('section', { class: 'panel panel-sites' }, listEl, pageEl, welcomeEl, cameraEl);
// Camera players outlive re-renders; the views ask for them by camera.
const players = createPlayers(api);
const alertsPanel = h('section', { class: 'panel panel-alerts' });
const settingsTopEl = h('div', { class: 'settings-part' });
const enrolSectionEl = h('div', { class: 'settings-part' });
const clipsEl = h('div', { class: 'settings-part' });
const aboutEl = h('div', { class: 'settings-part' });
const settingsPanel = h('section', { class: 'panel panel-settings' }, settingsTopEl, clipsEl, enrolSectionEl, aboutEl);
// The one enrolment form, placed by the welcome or by Settings, whichever shows.
const enrolForm = createEnrolForm(actions);
const main = h('main', { class: 'main' });
root.replaceChildren(bar.el, headerEl, bannerEl, main);

/** @type {((state: State) => void)[]} */
let regions;
if (store.get().available) {
  main.append(sitesPanel, alertsPanel, settingsPanel);
  regions = [
    bar.update,
    enrolForm.update,
    region(headerEl, (s) => [s.info, s.tab, s.lang, s.alerts], (s) => header(s, actions)),
    region(bannerEl, bannerDeps, (s) => banner(s, actions)),
    region(listEl, siteListDeps, (s) => siteList(s, actions)),
    region(pageEl, sitePageDeps, (s) => sitePage(s, actions, players)),
    region(cameraEl, cameraViewDeps, (s) => cameraView(s, actions, players)),
    region(welcomeEl, welcomeDeps, (s) => welcome(s, enrolForm.el, actions)),
    region(alertsPanel, alertsDeps, (s) => alerts(s, actions)),
    region(settingsTopEl, (s) => [s.lang, s.theme, s.background, s.quiet], (s) => settings(s, actions)),
    region(enrolSectionEl, enrolmentSectionDeps, (s) => enrolmentSection(s, enrolForm.el, actions)),
    region(clipsEl, (s) => [s.clips, s.sites, s.lang], (s) => clipsSection(s, actions)),
    region(aboutEl, (s) => [s.info, s.stats, s.lang, s.audit], (s) => about(s)),
    (s) => {
      // Which panel shows, and (on phones) whether the list or the open site fills it.
      const welcoming = needsEnrolment(s.info);
      listEl.hidden = welcoming;
      pageEl.hidden = welcoming;
      welcomeEl.hidden = !welcoming;
      sitesPanel.hidden = s.tab !== 'sites';
      alertsPanel.hidden = s.tab !== 'alerts';
      settingsPanel.hidden = s.tab !== 'settings';
      root.dataset.tab = s.tab;
      root.toggleAttribute('data-site-open', s.openSiteId !== null);
      cameraEl.hidden = s.openCameraId === null;
      root.toggleAttribute('data-camera-open', s.openCameraId !== null);
      warmNeighbours(s);
      refreshControls(s);
      announce(s);
    },
  ];
  installKeys(root, store, actions);
} else {
  main.append(noApp());
  regions = [bar.update, region(headerEl, (s) => [s.lang], () => h('h1', { class: 'app-name', text: 'Mimamori 見守り' }))];
}

/** The alerts seen so far, to tell new ones; a banner hides itself after a while. */
let seenAlerts = /** @type {import('./types.js').AlertView[] | null} */ (null);
let bannerTimer = /** @type {ReturnType<typeof setTimeout> | null} */ (null);
const BANNER_MS = 10000;
/** @param {State} s */
function announce(s) {
  if (s.alerts === seenAlerts) return;
  const fresh = newAlerts(seenAlerts, s.alerts);
  seenAlerts = s.alerts;
  if (fresh.length === 0 || !document.hasFocus()) return;
  store.set({ banner: fresh[0] });
  if (fresh.some((a) => isCriticalAlert(a.kind))) alarm();
  if (bannerTimer !== null) clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => store.set({ banner: null }), BANNER_MS);
}

/** @type {AudioContext | null} */
let audio = null;
/** Three short high tones: a critical alert (intrusion, fire, panic) while the app is in
 * front. (When it is not, the OS notification asks the desktop for its alarm sound.) */
function alarm() {
  try {
    audio ??= new AudioContext();
    void audio.resume();
    for (let i = 0; i < 3; i++) {
      const start = audio.currentTime + i * 0.35;
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 1760;
      gain.gain.setValueAtTime(0.2, start);
      gain.gain.setValueAtTime(0, start + 0.2);
      tone.connect(gain).connect(audio.destination);
      tone.start(start);
      tone.stop(start + 0.25);
    }
  } catch {
    // No audio device: the banner still shows.
  }
}

/** What the user may do at the open site, read again whenever its view changes (catalog,
 * profile). */
let controlsFor = /** @type {unknown} */ (null);
/** @param {State} s */
function refreshControls(s) {
  if (s.site === controlsFor) return;
  controlsFor = s.site;
  const siteId = s.openSiteId;
  if (siteId === null || s.site === null) return;
  api.siteControls(siteId).then(
    (controls) => {
      if (store.get().openSiteId === siteId) store.set({ controls });
    },
    () => store.set({ controls: null }),
  );
}

/** The cameras before and after the one open full screen, kept warm in the core so that
 * "next" and "previous" are instant; none when no camera is open. */
let warmKey = '';
/** @param {State} s */
function warmNeighbours(s) {
  const key = `${s.openSiteId}/${s.openCameraId}/${s.site?.id === s.openSiteId}`;
  if (key === warmKey) return;
  warmKey = key;
  const around = s.openCameraId === null ? [] : [nextCamera(s, 1), nextCamera(s, -1)];
  /** @type {import('./types.js').CameraStream[]} */
  const streams = [];
  for (const c of around) {
    if (c?.cameraId && !streams.some((x) => x.siteId === c.siteId && x.cameraId === c.cameraId)) {
      streams.push({ siteId: c.siteId, cameraId: c.cameraId, quality: 'main' });
    }
  }
  void api.warmStreams(streams).catch(() => {});
}

function render() {
  const state = store.get();
  for (const r of regions) r(state);
  applyPendingFocus();
  players.sweep();
}

let scheduled = false;
function scheduleRender() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    render();
  });
}
store.subscribe(scheduleRender);
holdRegionsDuringPress(scheduleRender);
// A camera chosen full screen starts its stream at once, not at the next frame's render
// (which finds the same player then).
// Opened from an alert: at the alert's moment, from the camera's memory.
let lastMoment = /** @type {State['moment']} */ (null);
store.subscribe(() => {
  const s = store.get();
  if (s.openCameraId === null || s.openSiteId === null || s.site?.id !== s.openSiteId) return;
  const camera = s.site.cameras.find((c) => c.id === s.openCameraId);
  if (camera === undefined) return;
  players.view(s.openSiteId, camera.id, 'main', camera.hasSnapshot);
  if (s.moment !== lastMoment && s.moment?.cameraId === camera.id) {
    players.replay(s.openSiteId, camera.id, 'main', s.moment.fromMs, s.moment.markMs);
  }
  lastMoment = s.moment;
});
render();
if (store.get().available) {
  const started = sync.start();
  // A clicked OS notification: its camera, full screen (or the inbox when it has none).
  void onOpenAlert((a) => {
    // At the alert's moment, when this device has it (it is stored before it is notified).
    const at = store.get().alerts?.find((x) => x.siteId === a.siteId && x.id === a.alertId)?.timeMs;
    if (a.cameraId !== null) void actions.openAlertCamera(a.siteId, a.cameraId, at);
    else actions.selectTab('alerts');
  }).catch(() => {});
  // Opened with an enrolment link: the form, filled in, waiting for the PIN.
  const enrolFromLink = () => takeEnrolLink().then((link) => {
    if (link === null || store.get().info?.demo) return;
    enrolForm.fill(link);
    // Before the first enrolment the form is on the Sites tab, after it in Settings.
    actions.selectTab(store.get().profiles?.length ? 'settings' : 'sites');
    focusAfterRender(() => enrolForm.pin);
  }, () => {});
  void onEnrolLink(() => void enrolFromLink()).catch(() => {});
  // A link the app was started with: once the profiles are known.
  void started.finally(enrolFromLink);
}
