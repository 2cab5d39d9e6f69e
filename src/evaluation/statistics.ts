// Accuracy with a 95% confidence interval (Wilson score interval for a binomial proportion).

export interface AccuracyEstimate {
  correct: number;
  trials: number;
  accuracy: number;
  /** 95% Wilson score interval [low, high]. */
  ci95: [number, number];
}

const Z95 = 1.959963984540054;

/** Wilson's interval stays inside [0, 1] and behaves near 0% and 100%, unlike the normal approximation. */
export function wilsonInterval(successes: number, trials: number, z = Z95): [number, number] {
  if (trials === 0) return [0, 1];
  const p = successes / trials;
  const z2 = z * z;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / (1 + z2 / trials);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export function estimateAccuracy(correct: number, trials: number): AccuracyEstimate {
  return { correct, trials, accuracy: trials === 0 ? 0 : correct / trials, ci95: wilsonInterval(correct, trials) };
}

/** "92.3% ± 1.7 (95% CI 90.6–93.9, 1,000 trials)" */
export function formatAccuracy(e: AccuracyEstimate): string {
  const pct = (x: number) => (100 * x).toFixed(1);
  const half = ((e.ci95[1] - e.ci95[0]) / 2) * 100;
  return `${pct(e.accuracy)}% ± ${half.toFixed(1)} (95% CI ${pct(e.ci95[0])}–${pct(e.ci95[1])}, ${e.trials.toLocaleString('en')} trials)`;
}
