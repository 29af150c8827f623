// What every benchmark shares: the median of its rounds, and the shape of a figure for the table (test/bench/run.ts).

/** The median (of an even count, the mean of the middle two). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** A figure for the bench table: value and baseline measured in the same run; the table computes the ratio. */
export interface Figure {
  value: number;
  baseline: number;
  unit: string;
  note?: string;
}
