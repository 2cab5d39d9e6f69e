// Verification metrics for "same class?" decisions from distances (lower = more alike): ROC AUC,
// equal error rate, accuracy at a threshold, true-accept rate at a false-accept rate (FaceNet's
// VAL@FAR), and a logistic calibration p = sigmoid(scale * (threshold - distance)).
import { ArgumentError } from '../errors.js';

export interface VerificationMetrics {
  pairs: number;
  positives: number;
  rocAuc: number;
  eer: number;
  /** Threshold that maximises accuracy on these pairs, and that accuracy. */
  bestThreshold: number;
  bestAccuracy: number;
  /** True-accept rate at false-accept rate 1e-3, and the threshold that gives it. */
  tarAtFar1e3: number;
}

function check(distances: ArrayLike<number>, same: ArrayLike<boolean | number>): void {
  if (distances.length !== same.length || distances.length === 0) {
    throw new ArgumentError(
      `verification: need as many labels as distances (got ${distances.length} and ${same.length})`,
    );
  }
}

/** Pairs sorted by distance, ascending, with running true/false accept counts. */
function sweep(distances: ArrayLike<number>, same: ArrayLike<boolean | number>) {
  const order = Array.from({ length: distances.length }, (_, i) => i).sort((a, b) => distances[a]! - distances[b]!);
  const positives = Array.from(same).filter(Boolean).length;
  const negatives = distances.length - positives;
  return { order, positives, negatives };
}

/** Probability that a random positive pair is closer than a random negative one (ties count half). */
export function rocAuc(distances: ArrayLike<number>, same: ArrayLike<boolean | number>): number {
  check(distances, same);
  const { order, positives, negatives } = sweep(distances, same);
  if (positives === 0 || negatives === 0) return NaN;
  // Mann-Whitney U over ranks, with average ranks for ties.
  let rankSum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && distances[order[j + 1]!] === distances[order[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (same[order[k]!]) rankSum += rank;
    i = j + 1;
  }
  // Small distance = positive, so positives should have *low* ranks.
  const u = rankSum - (positives * (positives + 1)) / 2;
  return 1 - u / (positives * negatives);
}

/** Accept when distance <= threshold: rates for every threshold between sorted distances. */
export function verificationMetrics(
  distances: ArrayLike<number>,
  same: ArrayLike<boolean | number>,
): VerificationMetrics {
  check(distances, same);
  const { order, positives, negatives } = sweep(distances, same);
  let truePositive = 0;
  let falsePositive = 0;
  let bestAccuracy = negatives / distances.length;
  let bestThreshold = distances[order[0]!]! - 1e-9;
  let eer = 1;
  let eerGap = Infinity;
  let tar = 0;
  for (let i = 0; i < order.length; i++) {
    if (same[order[i]!]) truePositive++;
    else falsePositive++;
    const next = order[i + 1];
    if (next !== undefined && distances[next] === distances[order[i]!]) continue; // same threshold
    const threshold = next === undefined ? distances[order[i]!]! : (distances[order[i]!]! + distances[next]!) / 2;
    const tpr = positives > 0 ? truePositive / positives : 0;
    const fpr = negatives > 0 ? falsePositive / negatives : 0;
    const accuracy = (truePositive + (negatives - falsePositive)) / distances.length;
    if (accuracy > bestAccuracy) {
      bestAccuracy = accuracy;
      bestThreshold = threshold;
    }
    const gap = Math.abs(1 - tpr - fpr);
    if (gap < eerGap) {
      eerGap = gap;
      eer = (fpr + (1 - tpr)) / 2;
    }
    if (fpr <= 1e-3) tar = Math.max(tar, tpr);
  }
  return {
    pairs: distances.length,
    positives,
    rocAuc: rocAuc(distances, same),
    eer,
    bestThreshold,
    bestAccuracy,
    tarAtFar1e3: tar,
  };
}

/**
 * Fits p(same) = sigmoid(scale * (threshold - distance)) by logistic regression (Newton's method),
 * with both classes weighted equally; `threshold` is where p = 0.5.
 */
export function fitCalibration(
  distances: ArrayLike<number>,
  same: ArrayLike<boolean | number>,
): { threshold: number; scale: number } {
  check(distances, same);
  const n = distances.length;
  const positives = Array.from(same).filter(Boolean).length;
  const wPos = positives > 0 ? n / (2 * positives) : 1;
  const wNeg = n - positives > 0 ? n / (2 * (n - positives)) : 1;
  const mean = Array.from(distances).reduce((s, d) => s + d, 0) / n;
  const std = Math.sqrt(Array.from(distances).reduce((s, d) => s + (d - mean) ** 2, 0) / n) || 1;
  // logit = a + b * z with z the standardised distance; b should come out negative.
  let a = 0;
  let b = -1;
  for (let iter = 0; iter < 50; iter++) {
    let ga = 0;
    let gb = 0;
    let haa = 1e-9;
    let hab = 0;
    let hbb = 1e-9;
    for (let i = 0; i < n; i++) {
      const z = (distances[i]! - mean) / std;
      const p = 1 / (1 + Math.exp(-(a + b * z)));
      const y = same[i] ? 1 : 0;
      const w = y ? wPos : wNeg;
      ga += w * (p - y);
      gb += w * (p - y) * z;
      const h = w * p * (1 - p);
      haa += h;
      hab += h * z;
      hbb += h * z * z;
    }
    const det = haa * hbb - hab * hab;
    if (!(Math.abs(det) > 1e-12)) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (Math.abs(da) + Math.abs(db) < 1e-10) break;
  }
  const scale = -b / std;
  const threshold = mean + (a / -b) * std;
  return { threshold, scale };
}
