// Keeps the store in step with the core: the first read, then one re-read per
// `bus-change` (a site changed → its summary, and its page if open; the connection
// changed → the status that came with the event; resync → everything, the app's info and
// the enrolled profiles included, since enrolling or removing a profile switches the
// connection and sends resync). Enrolment and removal go through here too, so their state
// (busy, error, result) is in the store like everything else. An `inbox` change (new or
// updated alerts stored by the core) re-reads the newest ALERT_LIMIT alerts.
//
// Reads are coalesced: while one is in flight, any number of further requests for it
// become exactly one more read after it, so a burst of changes costs two calls, and the
// last answer applied is always from a read that started after the last change.

import { toIpcError } from './api.js';
import { sortSites } from './sites.js';

/**
 * @typedef {import('./api.js').Api} Api
 * @typedef {import('./store.js').Store} Store
 * @typedef {import('./types.js').BusChange} BusChange
 */

/** How many alerts the inbox reads (the newest ones). */
export const ALERT_LIMIT = 200;

/**
 * @param {() => Promise<void>} read must not reject
 * @returns {() => Promise<void>}
 */
function coalesced(read) {
  /** @type {Promise<void> | null} */
  let running = null;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await read();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  };
}

/**
 * @param {Api} api
 * @param {Store} store
 */
export function createSync(api, store) {
  const refreshSites = coalesced(async () => {
    try {
      store.set({ sites: sortSites(await api.listSites()), sitesError: null });
    } catch (e) {
      store.set({ sitesError: toIpcError(e) });
    }
  });

  const refreshSite = coalesced(async () => {
    const id = store.get().openSiteId;
    if (id === null) return;
    try {
      const site = await api.getSite(id);
      // The user may have opened another site meanwhile; that one gets its own read.
      if (store.get().openSiteId === id) store.set({ site, siteError: null });
    } catch (e) {
      if (store.get().openSiteId === id) store.set({ site: null, siteError: toIpcError(e) });
    }
  });

  // A `connection` event carries the status itself. A read that was already on its way
  // when such an event arrived may answer with the older status, so it is dropped.
  let connectionEvents = 0;
  const refreshConnection = coalesced(async () => {
    const seen = connectionEvents;
    try {
      const connection = await api.connectionStatus();
      if (seen === connectionEvents) store.set({ connection });
    } catch (e) {
      console.error('connection_status failed', toIpcError(e));
    }
  });

  const refreshStats = coalesced(async () => {
    try {
      store.set({ stats: await api.busStats() });
    } catch (e) {
      console.error('bus_stats failed', toIpcError(e));
    }
  });

  const refreshInfo = coalesced(async () => {
    try {
      store.set({ info: await api.appInfo() });
    } catch (e) {
      console.error('app_info failed', toIpcError(e));
    }
  });

  const refreshProfiles = coalesced(async () => {
    try {
      store.set({ profiles: await api.listProfiles(), profilesError: null });
    } catch (e) {
      store.set({ profilesError: toIpcError(e) });
    }
  });

  const refreshAlerts = coalesced(async () => {
    try {
      const [alerts, gaps] = await Promise.all([api.listAlerts(ALERT_LIMIT), api.possibleGaps()]);
      store.set({ alerts, gaps, alertsError: null });
    } catch (e) {
      store.set({ alertsError: toIpcError(e) });
    }
  });

  async function resync() {
    await Promise.all([refreshInfo(), refreshProfiles(), refreshSites(), refreshSite(), refreshConnection(), refreshStats(), refreshAlerts()]);
  }

  /**
   * @param {BusChange} change
   * @returns {Promise<void>}
   */
  async function handle(change) {
    switch (change.type) {
      case 'site': {
        const reads = [refreshSites()];
        if (change.siteId === store.get().openSiteId) reads.push(refreshSite());
        if (store.get().tab === 'settings') reads.push(refreshStats());
        await Promise.all(reads);
        return;
      }
      case 'connection': {
        connectionEvents += 1;
        const { phase, sinceMs, attempt, problem, encrypted, cannotStore } = change;
        store.set({ connection: { phase, sinceMs, attempt, problem, encrypted, cannotStore } });
        // With several profiles the event is their combined connection; each profile's
        // own is in the app's info. A site is not vouched for as online without its
        // connection, so the sites are read again too.
        await Promise.all([refreshInfo(), refreshSites(), refreshSite()]);
        return;
      }
      case 'resync':
        await resync();
        return;
      case 'inbox':
        await refreshAlerts();
        return;
      default:
        // A newer core may send kinds this UI does not know yet; re-reading is always safe.
        await resync();
    }
  }

  return {
    /** Subscribes first, then reads, so no change can fall between the read and the subscription. */
    async start() {
      try {
        await api.onBusChange((change) => void handle(change));
      } catch (e) {
        console.error('cannot listen for bus changes', toIpcError(e));
      }
      await resync();
    },
    handle,
    refreshStats,
    /**
     * Enrols this device. Resolves (never rejects) once the answer is in the store: the
     * result, or the error. The core sends resync after a success; the profiles and the
     * app's info are read here as well, so the UI does not depend on that event's timing.
     * @param {string} code
     * @param {string} pin
     * @returns {Promise<boolean>} whether it worked
     */
    async enrol(code, pin) {
      if (store.get().enrolment.busy) return false;
      store.set({ enrolment: { busy: true, error: null, result: null } });
      try {
        const result = await api.enrol(code, pin);
        store.set({ enrolment: { busy: false, error: null, result } });
      } catch (e) {
        store.set({ enrolment: { busy: false, error: toIpcError(e), result: null } });
        return false;
      }
      await Promise.all([refreshInfo(), refreshProfiles()]);
      return true;
    },
    dismissEnrolment() {
      store.set({ enrolment: { busy: false, error: null, result: null } });
    },
    /**
     * The first step of removing a profile: the confirm step shows.
     * @param {string | null} profileId null cancels
     */
    askRemoval(profileId) {
      if (store.get().removal?.busy) return;
      store.set({ removal: profileId === null ? null : { profileId, busy: false, error: null } });
    },
    /**
     * Removes a profile (its keychain entry, then its settings). Never rejects.
     * @param {string} profileId
     * @returns {Promise<boolean>} whether it worked
     */
    async removeProfile(profileId) {
      if (store.get().removal?.busy) return false;
      store.set({ removal: { profileId, busy: true, error: null } });
      try {
        await api.removeProfile(profileId);
      } catch (e) {
        store.set({ removal: { profileId, busy: false, error: toIpcError(e) } });
        return false;
      }
      const { enrolment } = store.get();
      // An enrolment result about the profile just removed would now be untrue.
      if (enrolment.result?.id === profileId) store.set({ removal: null, enrolment: { ...enrolment, result: null } });
      else store.set({ removal: null });
      await Promise.all([refreshInfo(), refreshProfiles()]);
      return true;
    },
    /** @param {string} siteId */
    openSite(siteId) {
      if (store.get().openSiteId !== siteId) {
        store.set({ openSiteId: siteId, site: null, siteError: null, openCameraId: null, controls: null, sending: null, confirming: null });
      }
      return refreshSite();
    },
    closeSite() {
      store.set({ openSiteId: null, site: null, siteError: null, openCameraId: null, controls: null, sending: null, confirming: null });
    },
  };
}

/** @typedef {ReturnType<typeof createSync>} Sync */
