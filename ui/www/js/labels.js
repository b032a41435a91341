// How each state is named and toned. The tone picks a colour in styles.css; the state
// itself (as a data attribute) picks a shape, and the label is always written out, so no
// state is told apart by colour alone.

/**
 * @typedef {import('./types.js').SiteLink} SiteLink
 * @typedef {import('./types.js').ArmState} ArmState
 * @typedef {import('./types.js').CameraHealth} CameraHealth
 * @typedef {import('./types.js').OutputKind} OutputKind
 * @typedef {import('./types.js').OutputValue} OutputValue
 * @typedef {import('./types.js').AlertKind} AlertKind
 * @typedef {import('./i18n.js').MessageKey} MessageKey
 * @typedef {'ok' | 'warn' | 'alarm' | 'neutral'} Tone
 * @typedef {{ key: MessageKey, tone: Tone }} Label
 */

/** @type {Record<SiteLink, Label>} */
const LINK = {
  online: { key: 'link.online', tone: 'ok' },
  offline: { key: 'link.offline', tone: 'alarm' },
  // Silent past its supervision time: the site may be cut off — the most urgent.
  lost: { key: 'link.lost', tone: 'alarm' },
  unknown: { key: 'link.unknown', tone: 'neutral' },
};

/** @type {Record<ArmState | 'unknown', Label>} */
const ARMED = {
  armed: { key: 'armed.armed', tone: 'ok' },
  partial: { key: 'armed.partial', tone: 'warn' },
  disarmed: { key: 'armed.disarmed', tone: 'neutral' },
  unknown: { key: 'armed.unknown', tone: 'neutral' },
};

/** @type {Record<CameraHealth | 'unknown', Label>} */
const HEALTH = {
  ok: { key: 'health.ok', tone: 'ok' },
  fault: { key: 'health.fault', tone: 'warn' },
  offline: { key: 'health.offline', tone: 'alarm' },
  unknown: { key: 'health.unknown', tone: 'neutral' },
};

/** @type {Record<OutputValue | 'unknown', Label>} */
const OUTPUT = {
  // An active siren or light is something happening at the site: draw the eye to it.
  on: { key: 'output.on', tone: 'warn' },
  off: { key: 'output.off', tone: 'neutral' },
  locked: { key: 'output.locked', tone: 'ok' },
  unlocked: { key: 'output.unlocked', tone: 'warn' },
  unknown: { key: 'output.unknown', tone: 'neutral' },
};

/** @type {Record<OutputKind, MessageKey>} */
const KIND = { siren: 'output.siren', light: 'output.light', lock: 'output.lock', relay: 'output.relay' };

/** @param {SiteLink} link */
export const linkLabel = (link) => LINK[link] ?? LINK.unknown;

/** @param {ArmState | null} armed */
export const armLabel = (armed) => ARMED[armed ?? 'unknown'] ?? ARMED.unknown;

/** @param {CameraHealth | null} health */
export const healthLabel = (health) => HEALTH[health ?? 'unknown'] ?? HEALTH.unknown;

/** @param {OutputValue | null} value */
export const outputLabel = (value) => OUTPUT[value ?? 'unknown'] ?? OUTPUT.unknown;

/** @param {OutputKind} kind */
export const kindLabel = (kind) => KIND[kind] ?? 'output.relay';

/**
 * Alert kinds. Fire, panic and intrusion are the critical ones (tone `alarm`, emphasised);
 * the row always writes the kind out too, so the colour is never the only signal.
 * @type {Record<AlertKind, Label>}
 */
const ALERT_KIND = {
  intrusion: { key: 'alertKind.intrusion', tone: 'alarm' },
  door: { key: 'alertKind.door', tone: 'warn' },
  tamper: { key: 'alertKind.tamper', tone: 'warn' },
  fire: { key: 'alertKind.fire', tone: 'alarm' },
  panic: { key: 'alertKind.panic', tone: 'alarm' },
  sensor: { key: 'alertKind.sensor', tone: 'warn' },
  camera_offline: { key: 'alertKind.camera_offline', tone: 'warn' },
  system: { key: 'alertKind.system', tone: 'neutral' },
  // Raised by the device itself: the site went offline or silent.
  link_failure: { key: 'alertKind.link_failure', tone: 'warn' },
};

/** A kind from a newer core is shown as System. @param {AlertKind} kind */
export const alertKindLabel = (kind) => ALERT_KIND[kind] ?? ALERT_KIND.system;

/** @param {AlertKind} kind */
export const isCriticalAlert = (kind) => kind === 'fire' || kind === 'panic' || kind === 'intrusion';
