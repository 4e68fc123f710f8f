// Durations in the spec (`90s`, `30m`, `24h`, `7d`). Pure: used by workflow code.
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function durationMs(text: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new TypeError(`"${text}" is not a duration such as 90s, 30m, 24h or 7d`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

export function durationSeconds(text: string): number {
  return Math.ceil(durationMs(text) / 1000);
}
