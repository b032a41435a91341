// What the connection bar says. Pure: given the status and a translator it returns the
// phase (for `data-phase` and the shape), a tone (for the colour) and the text.

import { formatClock } from './time.js';

/**
 * @typedef {import('./types.js').ConnectionStatus} ConnectionStatus
 * @typedef {import('./types.js').ConnectionPhase} ConnectionPhase
 * @typedef {import('./labels.js').Tone} Tone
 * @typedef {import('./i18n.js').MessageKey} MessageKey
 * @typedef {(key: MessageKey, params?: import('./i18n.js').Params) => string} Translate
 * @typedef {ConnectionPhase | 'unknown' | 'unavailable'} BarPhase
 * @typedef {{ phase: BarPhase, tone: Tone, text: string }} Bar
 */

/**
 * @param {ConnectionStatus | null} status null until the first answer
 * @param {Translate} t
 * @param {{ available?: boolean, enrolled?: boolean } & import('./time.js').ClockOptions} [options]
 *   `enrolled: false` when the device has no profile yet (not the demo): there is nothing
 *   to connect to, which is said as such rather than as a failure.
 * @returns {Bar}
 */
export function connectionBar(status, t, { available = true, enrolled = true, ...clock } = {}) {
  if (!available) return { phase: 'unavailable', tone: 'alarm', text: t('conn.unavailable') };
  if (status === null) return { phase: 'unknown', tone: 'neutral', text: t('conn.unknown') };
  if (!enrolled && status.phase !== 'connected') return { phase: status.phase, tone: 'neutral', text: t('conn.notEnrolled') };
  const bar = linkBar(status, t, clock);
  // Alerts this device cannot save wait on the server: say so above all else.
  if (status.cannotStore && bar.phase !== 'unknown') {
    return { phase: bar.phase, tone: 'alarm', text: `${bar.text} · ${t('conn.cannotStore')}` };
  }
  return bar;
}

/**
 * The link part of the bar.
 * @param {ConnectionStatus} status
 * @param {Translate} t
 * @param {import('./time.js').ClockOptions} clock
 * @returns {Bar}
 */
function linkBar(status, t, clock) {
  const time = formatClock(status.sinceMs, clock);
  /** @type {{ tone: Tone, text: string }} */
  let bar;
  switch (status.phase) {
    case 'connected': {
      // Plain MQTT exists only on loopback (demo, tests); say so rather than look secure.
      const text = status.encrypted ? t('conn.connected') : `${t('conn.connected')} · ${t('conn.plain')}`;
      return { phase: 'connected', tone: 'ok', text };
    }
    case 'connecting':
      bar = { tone: 'warn', text: t('conn.connecting') };
      break;
    case 'reconnecting':
      // `attempt` counts failures since the last success; a fresh drop has none yet, and
      // "attempt 0" reads like a bug.
      bar = { tone: 'warn', text: t('conn.reconnecting', { attempt: Math.max(1, status.attempt), time }) };
      break;
    case 'stopped':
      // Refused credentials stop the client for good: say what will fix it.
      if (status.problem === 'notAuthorized') {
        return { phase: 'stopped', tone: 'alarm', text: t('conn.revoked') };
      }
      bar = { tone: 'alarm', text: t('conn.stopped', { time }) };
      break;
    default:
      return { phase: 'unknown', tone: 'neutral', text: t('conn.unknown') };
  }
  if (status.problem) {
    bar.text = t('conn.problem', { text: bar.text, problem: t(`problem.${status.problem}`) });
  }
  return { phase: status.phase, ...bar };
}
