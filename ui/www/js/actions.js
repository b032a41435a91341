// What the user can do, as functions the views and the keyboard handler share. Each one
// updates the store (and the core, through sync) and says where focus goes next, so that
// keyboard and screen-reader users land somewhere sensible after every step.

import { setLanguage } from './i18n.js';
import { setTheme } from './theme.js';
import { focusAfterRender } from './render.js';
import { nextCamera } from './sites.js';
import { CONFIRM_WINDOW, controlKey, guarded } from './control.js';
import { api, auditLog, backgroundStatus, deleteClip, listClips, quietHours, setQuietHours, setStartAtLogin, toIpcError } from './api.js';
import { MEMORY_SECONDS } from './player.js';

/** How long before an alert its camera starts, from memory (ms). */
const BEFORE_ALERT_MS = 5000;

/**
 * @typedef {import('./store.js').Store} Store
 * @typedef {import('./store.js').Tab} Tab
 * @typedef {import('./sync.js').Sync} Sync
 * @typedef {import('./i18n.js').Lang} Lang
 * @typedef {import('./theme.js').Theme} Theme
 */

/**
 * @param {string} testid
 * @param {string} [id] the element's `data-site-id` or `data-profile-id`
 */
function byTestId(testid, id) {
  for (const el of document.querySelectorAll(`[data-testid="${testid}"]`)) {
    if (el instanceof HTMLElement && (id === undefined || (el.dataset.siteId ?? el.dataset.profileId) === id)) return el;
  }
  return null;
}

/**
 * @param {Store} store
 * @param {Sync} sync
 */
export function createActions(store, sync) {
  /** Changes to starting at login made here, to tell a stale status from a fresh one. */
  let backgroundChanges = 0;
  /** Reads the saved clips (Settings). */
  const refreshClips = () => listClips().then((clips) => store.set({ clips }), () => store.set({ clips: [] }));
  return {
    /** @param {Tab} tab */
    selectTab(tab) {
      store.set({ tab });
      if (tab === 'settings') {
        void sync.refreshStats();
        const asked = backgroundChanges;
        // A change made while this was on its way is newer than what it says.
        backgroundStatus().then((background) => asked === backgroundChanges && store.set({ background }), () => {});
        quietHours().then((set) => store.set({ quiet: { set, error: null } }), () => {});
        auditLog(50).then((audit) => store.set({ audit }), () => {});
        refreshClips();
      }
    },
    /**
     * Sets or clears the quiet hours ("HH:MM" each, or null to clear).
     * @param {{ from: string, to: string } | null} times
     */
    async setQuietHours(times) {
      const minute = (/** @type {string} */ hhmm) => {
        const [h, m] = hhmm.split(':').map(Number);
        return h * 60 + m;
      };
      try {
        const set = await setQuietHours(times === null ? null : { fromMinute: minute(times.from), toMinute: minute(times.to) });
        store.set({ quiet: { set, error: null } });
      } catch (e) {
        store.set({ quiet: { set: store.get().quiet?.set ?? null, error: toIpcError(e).message } });
      }
    },
    /**
     * Shown at once, so that a render before the answer (an alert arriving) does not undo
     * the tap; only the answer to the latest change is kept, and a refusal puts back what
     * was shown before it.
     * @param {boolean} enabled
     */
    async setStartAtLogin(enabled) {
      const change = ++backgroundChanges;
      const before = store.get().background;
      if (before) store.set({ background: { ...before, startAtLogin: enabled } });
      try {
        const background = await setStartAtLogin(enabled);
        if (change === backgroundChanges) store.set({ background });
      } catch (e) {
        console.error('start at login', toIpcError(e));
        if (change === backgroundChanges) store.set({ background: before });
      }
    },
    /** @param {string} siteId */
    openSite(siteId) {
      store.set({ tab: 'sites' });
      void sync.openSite(siteId);
      // The page's heading, so a screen reader announces which site opened.
      focusAfterRender(() => byTestId('site-page', siteId)?.querySelector('h2'));
    },
    closeSite() {
      const siteId = store.get().openSiteId;
      if (siteId === null) return;
      sync.closeSite();
      focusAfterRender(() => byTestId('site-card', siteId));
    },
    /**
     * Shows a camera of the open site full screen.
     * @param {string} cameraId
     */
    openCamera(cameraId) {
      store.set({ openCameraId: cameraId });
      focusAfterRender(() => byTestId('camera-close'));
    },
    /**
     * From an alert: its site, its camera full screen at the moment of the alert — a few
     * seconds before it, from the camera's memory, when the alert is recent enough (as
     * far back as memory reaches; live when it holds nothing).
     * @param {string} siteId
     * @param {string} cameraId
     * @param {number} [alertMs] when the alert happened
     */
    async openAlertCamera(siteId, cameraId, alertMs) {
      store.set({ tab: 'sites' });
      await sync.openSite(siteId);
      if (store.get().site?.cameras.some((c) => c.id === cameraId)) {
        const recent = alertMs !== undefined && Date.now() - alertMs < MEMORY_SECONDS * 1000;
        const moment = recent ? { cameraId, fromMs: alertMs - BEFORE_ALERT_MS, markMs: alertMs } : null;
        store.set({ openCameraId: cameraId, moment });
        focusAfterRender(() => byTestId('camera-close'));
      }
    },
    /** @param {string} clipId */
    async deleteClip(clipId) {
      try {
        await deleteClip(clipId);
      } catch (e) {
        console.error('delete clip', toIpcError(e));
      }
      refreshClips();
    },
    /**
     * Opens the acknowledgement form of an alert (its note field gets focus).
     * @param {string} siteId
     * @param {string} alertId
     */
    startAck(siteId, alertId) {
      store.set({ acking: { siteId, alertId }, ackSending: null });
      focusAfterRender(() => byTestId('ack-note'));
    },
    cancelAck() {
      store.set({ acking: null });
    },
    dismissBanner() {
      store.set({ banner: null });
    },
    /**
     * Narrows the inbox to a site, a kind or a state.
     * @param {Partial<import('./alerts.js').AlertFilter>} change
     */
    filterAlerts(change) {
      store.set({ alertFilter: { ...store.get().alertFilter, ...change } });
    },
    /**
     * Acknowledges an alert for every user of its site. The row turns acknowledged when
     * the site's update arrives, on this device as on every other.
     * @param {string} siteId
     * @param {string} alertId
     * @param {string} note
     */
    async acknowledge(siteId, alertId, note) {
      if (store.get().ackSending?.busy) return;
      const key = `${siteId}/${alertId}`;
      store.set({ ackSending: { key, busy: true, outcome: null, error: null } });
      try {
        const outcome = await api.acknowledgeAlert(siteId, alertId, note.trim() || null);
        const done = outcome.outcome === 'done';
        store.set({ ackSending: { key, busy: false, outcome, error: null }, ...(done ? { acking: null } : {}) });
      } catch (e) {
        store.set({ ackSending: { key, busy: false, outcome: null, error: toIpcError(e) } });
      }
    },
    closeCamera() {
      const cameraId = store.get().openCameraId;
      if (cameraId === null) return;
      store.set({ openCameraId: null, moment: null });
      focusAfterRender(() => /** @type {HTMLElement | null} */ (document.querySelector(`[data-testid="camera-tile"][data-camera-id="${CSS.escape(cameraId)}"]`)));
    },
    /**
     * The next (+1) or previous (-1) camera: within the site, then on to the next site
     * of the list that has cameras (its first camera, or its last going back).
     * @param {1 | -1} step
     */
    async stepCamera(step) {
      const state = store.get();
      const target = nextCamera(state, step);
      if (target === null) return;
      if (target.siteId !== state.openSiteId) {
        await sync.openSite(target.siteId);
        const view = store.get().site;
        if (store.get().openSiteId !== target.siteId || view === null || view.cameras.length === 0) return;
        store.set({ openCameraId: (step > 0 ? view.cameras[0] : view.cameras[view.cameras.length - 1]).id });
        return;
      }
      store.set({ openCameraId: target.cameraId });
    },
    /**
     * Sends a command to an output (outputId) or the site (null). A guarded one (unlock,
     * disarm, silence) first asks for a confirming second tap within a few seconds.
     * @param {string} siteId
     * @param {string | null} outputId
     * @param {string} action
     * @param {string} [pin] the app PIN typed in the confirming step
     */
    async command(siteId, outputId, action, pin = '') {
      const key = controlKey(siteId, outputId, action);
      const state = store.get();
      if (state.sending?.busy) return;
      const needsProof = guarded(state.controls, outputId, action);
      if (needsProof && state.confirming !== key) {
        // First tap: ask for the confirming step (and the app PIN unless freshly given).
        store.set({ confirming: key, pin: null });
        focusAfterRender(() => byTestId('control-pin') ?? byTestId('control-confirm'));
        api.pinStatus().then(
          (pin) => store.set({ pin }),
          // The keychain cannot say: the step cannot be confirmed, and says why.
          (e) => store.set({ pin: null, sending: { key, busy: false, outcome: null, error: toIpcError(e) } }),
        );
        setTimeout(() => {
          if (store.get().confirming === key) store.set({ confirming: null });
        }, CONFIRM_WINDOW);
        return;
      }
      store.set({ sending: { key, busy: true, outcome: null, error: null } });
      if (needsProof && !state.pin?.fresh) {
        try {
          await api.confirmPin(pin, !state.pin?.set);
        } catch (e) {
          // Wrong PIN (tries left), or locked out: say so; the confirming step stays open.
          store.set({ sending: { key, busy: false, outcome: null, error: toIpcError(e) } });
          return;
        }
      }
      store.set({ confirming: null, pin: null });
      try {
        const outcome = outputId === null ? await api.setArming(siteId, action) : await api.setOutput(siteId, outputId, action);
        store.set({ sending: { key, busy: false, outcome, error: null } });
      } catch (e) {
        store.set({ sending: { key, busy: false, outcome: null, error: toIpcError(e) } });
      }
    },
    /** @param {string} filter */
    setFilter(filter) {
      store.set({ filter });
    },
    /** @param {Lang} lang */
    setLanguage(lang) {
      setLanguage(lang);
      store.set({ lang });
    },
    /** @param {Theme} theme */
    setTheme(theme) {
      setTheme(theme);
      store.set({ theme });
    },
    /**
     * Enrols this device. Afterwards focus goes to what was enrolled, or back to the
     * (emptied) code field to try again; the error line announces itself (role="alert").
     * @param {string} code
     * @param {string} pin
     */
    async enrol(code, pin) {
      if (store.get().enrolment.busy) return;
      const ok = await sync.enrol(code, pin);
      focusAfterRender(() => (ok ? byTestId('enrol-done-title') : byTestId('enrol-code')));
    },
    dismissEnrolment() {
      sync.dismissEnrolment();
      focusAfterRender(() => (store.get().tab === 'sites' ? byTestId('site-card') : byTestId('enrol-code')));
    },
    /**
     * Shows the confirm step of removing a profile, focused on its safe choice (cancel).
     * @param {string} profileId
     */
    askRemoveProfile(profileId) {
      sync.askRemoval(profileId);
      focusAfterRender(() => byTestId('profile-remove-cancel', profileId));
    },
    cancelRemoveProfile() {
      const profileId = store.get().removal?.profileId;
      sync.askRemoval(null);
      if (profileId !== undefined) focusAfterRender(() => byTestId('profile-remove', profileId));
    },
    /** @param {string} profileId */
    async removeProfile(profileId) {
      if (await sync.removeProfile(profileId)) focusAfterRender(() => byTestId('enrol-section-title'));
    },
  };
}

/** @typedef {ReturnType<typeof createActions>} Actions */
