// What the user can do, as functions the views and the keyboard handler share. Each one
// updates the store (and the core, through sync) and says where focus goes next, so that
// keyboard and screen-reader users land somewhere sensible after every step.

import { setLanguage } from './i18n.js';
import { setTheme } from './theme.js';
import { focusAfterRender } from './render.js';

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
  return {
    /** @param {Tab} tab */
    selectTab(tab) {
      store.set({ tab });
      if (tab === 'settings') void sync.refreshStats();
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
    closeCamera() {
      const cameraId = store.get().openCameraId;
      if (cameraId === null) return;
      store.set({ openCameraId: null });
      focusAfterRender(() => /** @type {HTMLElement | null} */ (document.querySelector(`[data-testid="camera-tile"][data-camera-id="${CSS.escape(cameraId)}"]`)));
    },
    /**
     * The next (+1) or previous (-1) camera of the site, wrapping around.
     * @param {1 | -1} step
     */
    stepCamera(step) {
      const { site, openCameraId } = store.get();
      if (site === null || openCameraId === null || site.cameras.length === 0) return;
      const i = site.cameras.findIndex((c) => c.id === openCameraId);
      const next = site.cameras[(i + step + site.cameras.length) % site.cameras.length];
      store.set({ openCameraId: next.id });
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
