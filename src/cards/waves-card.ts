import type { WaveOu, WavePlan, WaveWarning } from '../runbook/waves';
import { literal, literalFacts, literalLines } from './literal';
import { WAVE_VERBS } from './wave-action-card';
import { expandTemplate, formatCount, type AdaptiveCardJson } from './render';

/** A wave as the card shows it: the plan, with how many of each OU's users are disabled. */
export interface ShownWave extends WavePlan {
  ous: (WaveOu & { disabled: number | null })[];
}

/** `W`: the caller's own wave record, which the card reads only as a ShownWave. */
export interface WaveView<W extends ShownWave = ShownWave> {
  wave: W;
  warnings: WaveWarning[];
  /** A Rollback button's data (opaque ids only), when the wave holds a change SyncShift can take back. */
  rollback?: { migrationId: string; waveId: string };
}

export function renderWavesCard(input: {
  title: string;
  text?: string;
  waves: WaveView[];
  hint?: string;
}): AdaptiveCardJson {
  return expandTemplate('waves', {
    title: literal(input.title),
    text: literal(input.text ?? ''),
    hint: literal(input.hint ?? ''),
    waves: input.waves.map(({ wave, warnings, rollback }) => {
      const counted = wave.ous.every((ou) => ou.users !== null);
      const total = wave.ous.reduce((sum, ou) => sum + (ou.users ?? 0), 0);
      return {
        heading: literal(
          `${wave.name} · ${wave.scheduledFor ? `on ${wave.scheduledFor}` : 'no date'} · ${counted ? `${formatCount(total)} users` : 'counting…'}${warnings.length > 0 ? ` · ⚠ ${warnings.length} warning(s)` : ''}`,
        ),
        ous: literalFacts(
          wave.ous.map((ou) => ({
            title: ou.baseDn ?? ou.input,
            value: ou.error
              ? `⚠ ${ou.error}`
              : ou.users === null
                ? 'counting…'
                : `${formatCount(ou.users)} users${ou.disabled ? ` (${formatCount(ou.disabled)} disabled)` : ''}`,
          })),
        ),
        warnings: literalLines(warnings.map((w) => `⚠ ${w.message}`)),
        actions: rollback ? [{ title: `Rollback ${wave.name}`, verb: WAVE_VERBS.rollback, data: rollback }] : [],
      };
    }),
  });
}
