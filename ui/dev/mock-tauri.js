// Development only: a stand-in for `window.__TAURI__` so the UI can be looked at (and
// screenshotted) in a plain browser. Loaded by dev/index.html before main.js; never part
// of ui/www. It answers the same commands with made-up sites and, every few seconds,
// flips one site's link to show live updates. No addresses or credentials, as in the app.
// A classic script (not a module) so that it runs before main.js; hence the IIFE.
//
// Enrolment: `?demo=0` runs as an enrolled device (one profile, with roles); `?enrolled=0`
// starts not enrolled. The fake `enrol` takes any text that starts with `MMR1.` (or the
// link to one) and accepts only the PIN ABCDE-FGHJK (any case, any separators); five wrong
// PINs lock the code, a code works once, and `?keychain=locked` makes it fail as a locked
// keychain would. `?alerts=0` starts with an empty inbox (otherwise a few sample alerts,
// and a new one every 15 s).

(() => {
  const query = new URLSearchParams(globalThis.location?.search ?? '');
  const now = Date.now();
  const min = 60_000;

  /** @typedef {import('../www/js/types.js').SiteView} SiteView */
  /** @typedef {import('../www/js/types.js').CameraView} CameraView */
  /** @typedef {import('../www/js/types.js').ConnectionStatus} ConnectionStatus */
  /** @typedef {import('../www/js/types.js').BusChange} BusChange */
  /** @typedef {import('../www/js/types.js').ProfileSummary} ProfileSummary */
  /** @typedef {import('../www/js/types.js').AlertView} AlertView */

  /**
   * @param {string} prefix
   * @param {[string, string | null, import('../www/js/types.js').CameraHealth | null][]} rows
   * @returns {CameraView[]}
   */
  const cameras = (prefix, rows) =>
    rows.map(([name, zoneName, health], i) => ({
      id: `${prefix}-cam${i + 1}`,
      name,
      zone: zoneName ? `z${i + 1}` : null,
      zoneName,
      health,
      hasSubStream: true,
      hasSnapshot: i % 2 === 0,
    }));

  /** The roles the mock's sites publish for this user (the demo: admin everywhere). */
  /** @type {Record<string, import('../www/js/types.js').Role>} */
  const roles = { 'osaka-wh': 'operator', 'store-10': 'viewer', 'store-2': 'viewer' };

  /**
   * @param {Omit<SiteView, 'cameraCount' | 'faultyCameras' | 'outputCount' | 'role' | 'roleFromSite'>} s
   * @returns {SiteView}
   */
  const site = (s) => ({
    ...s,
    role: query.get('demo') === '0' ? roles[s.id] ?? 'admin' : 'admin',
    roleFromSite: true,
    cameraCount: s.cameras.length,
    faultyCameras: s.cameras.filter((c) => c.health === 'fault' || c.health === 'offline').length,
    outputCount: s.outputs.length,
  });

  /** @type {SiteView[]} */
  let sites = [
    site({
      id: 'tokyo-hq', name: '東京本社', link: 'online', armed: 'armed', lastSeenMs: now - 5000,
      timeZone: 'Asia/Tokyo', supervisionS: 90, armable: true,
      cameras: cameras('tokyo', [
        ['正面玄関', '1F ロビー', 'ok'], ['通用口', '1F 裏口', 'ok'], ['駐車場', '屋外', 'ok'],
        ['サーバー室', '3F', 'ok'], ['倉庫 A', '2F', 'ok'], ['屋上', null, null],
      ]),
      outputs: [
        { id: 'siren1', kind: 'siren', name: '屋外サイレン', state: 'off', sinceMs: now - 3 * 3600_000, by: null },
        { id: 'light1', kind: 'light', name: '駐車場照明', state: 'on', sinceMs: now - 12 * min, by: 'sato' },
        { id: 'door1', kind: 'lock', name: '通用口 電気錠', state: 'locked', sinceMs: now - 95 * min, by: 'tanaka' },
      ],
    }),
    site({
      id: 'osaka-wh', name: 'Osaka warehouse', link: 'lost', armed: 'partial', lastSeenMs: now - 4 * min,
      timeZone: 'Asia/Tokyo', supervisionS: 90, armable: true,
      cameras: cameras('osaka', [
        ['Loading bay', 'Dock', 'ok'], ['Aisle 3', 'Storage', 'fault'], ['Gate', 'Outside', 'offline'], ['Office', null, 'ok'],
      ]),
      outputs: [
        { id: 'siren', kind: 'siren', name: 'Siren', state: null, sinceMs: null, by: null },
        { id: 'gate', kind: 'lock', name: 'Gate lock', state: 'unlocked', sinceMs: now - 26 * 3600_000, by: 'kimura' },
        { id: 'aux', kind: 'relay', name: 'Fog machine', state: 'off', sinceMs: null, by: null },
      ],
    }),
    site({
      id: 'store-10', name: 'Store 10', link: 'offline', armed: 'disarmed', lastSeenMs: now - 50 * min,
      timeZone: null, supervisionS: 90, armable: false,
      cameras: cameras('s10', [['Till', 'Shop floor', 'ok'], ['Back door', null, 'ok']]),
      outputs: [],
    }),
    site({
      id: 'store-2', name: 'Store 2', link: 'online', armed: 'disarmed', lastSeenMs: now - 2000,
      timeZone: null, supervisionS: 90, armable: true,
      cameras: cameras('s2', [['Till', 'Shop floor', 'ok']]),
      outputs: [{ id: 'light', kind: 'light', name: 'Window light', state: 'off', sinceMs: now - 8 * min, by: 'suzuki' }],
    }),
    site({
      id: 'kyoto-new', name: null, link: 'unknown', armed: null, lastSeenMs: null,
      timeZone: null, supervisionS: 90, armable: false, cameras: [], outputs: [],
    }),
  ];
  const count = query.get('sites');
  if (count !== null) {
    const n = Number(count);
    const extra = [];
    for (let i = sites.length; i < n; i += 1) {
      extra.push(site({
        id: `branch-${i}`, name: `Branch ${i}`, link: 'online', armed: 'armed', lastSeenMs: now,
        timeZone: null, supervisionS: 90, armable: true, cameras: [], outputs: [],
      }));
    }
    sites = [...sites, ...extra].slice(0, n);
  }

  const demo = query.get('demo') !== '0' && query.get('enrolled') !== '0';
  /** @type {ProfileSummary[]} */
  let profiles = [];
  /** @type {ProfileSummary} */
  const exampleProfile = {
    id: '5e1f0c2a9b7d4e38',
    label: 'Example Co.',
    user: 'aiko',
    enrolledMs: now - 3 * 86_400_000,
    sites: [
      { id: 'tokyo-hq', name: '東京本社', role: 'admin' },
      { id: 'osaka-wh', name: 'Osaka warehouse', role: 'operator' },
      { id: 'store-10', name: 'Store 10', role: 'viewer' },
      { id: 'store-2', name: 'Store 2', role: 'viewer' },
      { id: 'kyoto-new', name: '京都（新規）', role: 'operator' },
    ],
  };
  if (query.get('demo') === '0' && query.get('enrolled') !== '0') {
    profiles = [exampleProfile];
  }
  /** Every enrolled profile is connected at once. */
  const enrolled = () => profiles.length > 0;
  /** The sites of the enrolled profiles (all of them in the demo). */
  const visible = () => {
    if (demo) return sites;
    return sites.filter((s) => profiles.some((p) => p.sites.some((x) => x.id === s.id)));
  };
  /** Wrong PINs per code, and the codes used, as the core keeps them. */
  /** @type {Map<string, number>} */
  const wrongPins = new Map();
  /** @type {Set<string>} */
  const usedCodes = new Set();

  /** @type {ConnectionStatus} */
  let connection = { phase: 'connecting', sinceMs: now, attempt: 0, problem: null, encrypted: true, cannotStore: false };
  if (!demo && !enrolled()) connection = { phase: 'stopped', sinceMs: now, attempt: 0, problem: null, encrypted: false, cannotStore: false };
  /** @type {Set<(event: TauriEvent<BusChange>) => void>} */
  const handlers = new Set();
  /** @param {BusChange} payload */
  const emit = (payload) => handlers.forEach((cb) => cb({ event: 'bus-change', id: 0, payload }));

  const wanted = query.get('conn') ?? 'connected';
  setTimeout(() => {
    if (!demo && !enrolled()) return;
    if (wanted === 'reconnecting') connection = { phase: 'reconnecting', sinceMs: now - 7 * min, attempt: 3, problem: 'unreachable', encrypted: true, cannotStore: false };
    else if (wanted === 'stopped') connection = { phase: 'stopped', sinceMs: now - 30 * min, attempt: 5, problem: 'notAuthorized', encrypted: true, cannotStore: false };
    else if (wanted === 'connected') connection = { phase: 'connected', sinceMs: Date.now(), attempt: 0, problem: null, encrypted: true, cannotStore: false };
    emit({ type: 'connection', ...connection });
  }, 800);

  // Live updates: the Osaka site keeps dropping and coming back.
  setInterval(() => {
    const s = sites.find((x) => x.id === 'osaka-wh');
    if (!s) return;
    s.link = s.link === 'lost' ? 'online' : 'lost';
    s.lastSeenMs = Date.now();
    emit({ type: 'site', siteId: s.id });
  }, 4000);

  // Alerts, newest first. One title carries markup, which must show as text.
  /** @type {AlertView[]} */
  let alerts = [
    { siteId: 'osaka-wh', id: 'al-5', timeMs: now - 2 * min, kind: 'intrusion', zone: 'Dock', title: 'Motion in the loading bay while armed',
      cameras: ['osaka-cam1'], hasSnapshot: true, pictureProblem: null, acknowledgedBy: null, acknowledgedMs: null, note: null },
    { siteId: 'tokyo-hq', id: 'al-4', timeMs: now - 9 * min, kind: 'fire', zone: '3F', title: '煙感知器 作動 <b>html</b> "テスト"',
      cameras: [], hasSnapshot: false, pictureProblem: null, acknowledgedBy: null, acknowledgedMs: null, note: null },
    { siteId: 'store-10', id: 'al-3', timeMs: now - 50 * min, kind: 'camera_offline', zone: null, title: 'Camera "Back door" stopped sending',
      cameras: ['s10-cam2'], hasSnapshot: false, pictureProblem: null, acknowledgedBy: 'suzuki', acknowledgedMs: now - 40 * min, note: 'Power cut' },
    { siteId: 'tokyo-hq', id: 'al-2', timeMs: now - 3 * 3600_000, kind: 'door', zone: '1F 裏口', title: '通用口 開放',
      cameras: ['tokyo-cam2'], hasSnapshot: true, pictureProblem: null, acknowledgedBy: 'tanaka', acknowledgedMs: now - 170 * min, note: null },
    { siteId: 'gone-site', id: 'al-1', timeMs: now - 26 * 3600_000, kind: 'system', zone: null, title: 'Panel restarted',
      cameras: [], hasSnapshot: false, pictureProblem: null, acknowledgedBy: null, acknowledgedMs: null, note: null },
  ];
  if (query.get('alerts') === '0') alerts = [];
  let nextAlert = 6;
  // A new alert now and then (`?alerts=0` keeps the inbox empty).
  setInterval(() => {
    if (query.get('alerts') === '0') return;
    alerts = [{
      siteId: 'store-2', id: `al-${nextAlert}`, timeMs: Date.now(), kind: nextAlert % 2 === 0 ? 'panic' : 'sensor', zone: 'Shop floor',
      title: `Test alert ${nextAlert} <script>`, cameras: [], hasSnapshot: false, pictureProblem: null, acknowledgedBy: null, acknowledgedMs: null, note: null,
    }, ...alerts];
    nextAlert += 1;
    emit({ type: 'inbox', siteId: 'store-2' });
  }, 15_000);

  let received = 0;
  /** @param {SiteView} s */
  const summary = ({ id, name, link, armed, cameraCount, faultyCameras, outputCount, lastSeenMs, role, roleFromSite }) =>
    ({ id, name, link, armed, cameraCount, faultyCameras, outputCount, lastSeenMs, role, roleFromSite });

  /** After enrol or remove_profile, the core switches the connection and sends resync. */
  const switched = () => {
    connection = !enrolled()
      ? { phase: 'stopped', sinceMs: Date.now(), attempt: 0, problem: null, encrypted: false, cannotStore: false }
      : { phase: 'connected', sinceMs: Date.now(), attempt: 0, problem: null, encrypted: true, cannotStore: false };
    setTimeout(() => emit({ type: 'resync' }), 50);
  };

  /**
   * @param {unknown} code
   * @param {unknown} pin
   * @returns {ProfileSummary}
   */
  const enrol = (code, pin) => {
    const text = String(code).trim().replace(/^mimamori:\/\/enroll\?code=/, '');
    if (!text.startsWith('MMR1.') || /[^A-Za-z0-9_.=-]/.test(text)) {
      throw { kind: 'InvalidInput', message: 'this is not a Mimamori enrolment code' };
    }
    if (text.length < 20) throw { kind: 'InvalidInput', message: 'the enrolment code is incomplete (cut off when copied?)' };
    const normal = String(pin).replace(/[-\s]/g, '').toUpperCase();
    if (!/^[A-Z0-9]{6,32}$/.test(normal)) throw { kind: 'InvalidInput', message: 'the PIN must be 6 to 32 letters and digits' };
    if ((wrongPins.get(text) ?? 0) >= 5) {
      throw { kind: 'PermissionDenied', message: 'too many wrong PINs for this enrolment code; ask your administrator for a new one' };
    }
    if (normal !== 'ABCDEFGHJK') {
      wrongPins.set(text, (wrongPins.get(text) ?? 0) + 1);
      throw { kind: 'Unauthenticated', message: 'wrong PIN' };
    }
    if (usedCodes.has(text)) {
      throw { kind: 'PermissionDenied', message: 'this enrolment code was already used on this device; ask for a new one' };
    }
    if (query.get('keychain') === 'locked') {
      throw {
        kind: 'Unavailable',
        message: 'the keychain is locked or refuses access; unlock it (log in to the desktop session, or unlock the "login" keyring) and try again',
      };
    }
    usedCodes.add(text);
    const profile = { ...structuredClone(exampleProfile), enrolledMs: Date.now() };
    profiles = [...profiles.filter((p) => p.id !== profile.id), profile];
    switched();
    return structuredClone(profile);
  };

  /** @type {Record<string, (args: Record<string, unknown>) => unknown>} */
  const commands = {
    // Players open but receive nothing: tiles say "connecting".
    open_stream: () => 1,
    close_stream: () => true,
    warm_streams: () => null,
    site_controls: () => ({ role: 'admin', outputs: [], arming: [] }),
    set_output: () => ({ outcome: 'unconfirmed' }),
    set_arming: () => ({ outcome: 'unconfirmed' }),
    pin_status: () => ({ available: true, set: false, fresh: false }),
    confirm_pin: () => null,
    get_snapshot: () => {
      throw { kind: 'Unavailable', message: 'no snapshots in the preview' };
    },
    possible_gaps: () => [],
    quiet_hours: () => null,
    audit_log: () => ({ verified: true, problem: null, total: 0, records: [] }),
    set_quiet_hours: ({ quiet }) => quiet ?? null,
    background_status: () => ({ tray: true, startAtLoginAvailable: true, startAtLogin: false }),
    set_start_at_login: ({ enabled }) => ({ tray: true, startAtLoginAvailable: true, startAtLogin: Boolean(enabled) }),
    alert_picture: () => {
      throw { kind: 'NotFound', message: 'no pictures in the preview' };
    },
    acknowledge_alert: () => ({ outcome: 'unconfirmed' }),
    list_sites: () => visible().map(summary),
    get_site: ({ siteId }) => {
      const s = visible().find((x) => x.id === siteId);
      if (!s) throw { kind: 'NotFound', message: `no site \`${String(siteId)}\`` };
      return structuredClone(s);
    },
    connection_status: () => ({ ...connection }),
    bus_stats: () => ({ received: (received += 7), rejected: 1, lastRejection: 'status of site `osaka-wh`: missing field `state`', unstored: 0, replayed: 0 }),
    app_info: () => ({ version: '0.1.0-dev', demo, connections: profiles.map((p) => ({ profileId: p.id, status: connection })) }),
    list_profiles: () => structuredClone(profiles),
    list_alerts: ({ limit }) => {
      const n = Number(limit);
      if (!Number.isInteger(n) || n < 1 || n > 500) throw { kind: 'InvalidInput', message: 'limit must be 1–500' };
      const shown = new Set(visible().map((x) => x.id));
      return structuredClone(alerts.filter((a) => demo || shown.has(a.siteId)).slice(0, n));
    },
    enrol: ({ code, pin }) => new Promise((resolve, reject) => {
      // Key derivation takes a moment in the real core: long enough to see the busy state.
      setTimeout(() => {
        try {
          resolve(enrol(code, pin));
        } catch (e) {
          reject(e);
        }
      }, 700);
    }),
    remove_profile: ({ profileId: id }) => {
      if (!profiles.some((p) => p.id === id)) throw { kind: 'NotFound', message: `no profile \`${String(id)}\`` };
      profiles = profiles.filter((p) => p.id !== id);
      switched();
      return null;
    },
  };

  globalThis.__TAURI__ = {
    core: {
      // The preview has no video: players stay "connecting".
      Channel: class {
        constructor() {
          /** @type {(message: any) => void} */
          this.onmessage = () => {};
        }
      },
      async invoke(cmd, args = {}) {
        const run = commands[cmd];
        if (!run) throw `command ${cmd} not found`;
        await new Promise((r) => setTimeout(r, 30));
        return /** @type {any} */ (run(args));
      },
    },
    event: {
      async listen(event, handler) {
        if (event !== 'bus-change') return () => {};
        const cb = /** @type {(event: TauriEvent<BusChange>) => void} */ (handler);
        handlers.add(cb);
        return () => handlers.delete(cb);
      },
    },
  };
})();
