/**
 * `npm run bench`: runs every benchmark and prints one table. Figures are ratios against a baseline measured in the
 * same run (never timed assertions), so they compare across machines; the machine is printed too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchActivation, benchBundleSize, benchOutputIngest, benchPersistence, figuresToRows, type BenchRow } from './core';

interface Section {
  title: string;
  run: () => Promise<BenchRow[]> | BenchRow[];
}

/** A section from another benchmark module, skipped with a note when that module is absent. */
function optional(title: string, file: string, exportName: string): Section {
  return {
    title,
    run: async () => {
      if (!fs.existsSync(path.join(__dirname, file))) return [{ name: title, value: Number.NaN, unit: '', note: `test/bench/${file} not present` }];
      const module = (await import(`./${file.replace(/\.ts$/, '')}`)) as Record<string, () => Promise<unknown>>;
      return figuresToRows(title, await module[exportName]());
    },
  };
}

const sections: Section[] = [
  { title: 'output ingest', run: () => benchOutputIngest() },
  { title: 'persistence', run: () => benchPersistence() },
  { title: 'bundle size', run: () => benchBundleSize() },
  optional('codex', 'codex.ts', 'benchCodex'),
  optional('providers', 'providers.ts', 'benchProviders'),
  optional('keeper', 'keeper.ts', 'benchKeeper'),
  optional('worktrees', 'worktrees.ts', 'benchWorktrees'),
  optional('second opinions', 'second-opinions.ts', 'benchSecondOpinions'),
  { title: 'activation', run: () => benchActivation() },
];

function format(value: number | undefined, unit = ''): string {
  if (value === undefined) return '';
  if (Number.isNaN(value)) return '—';
  const digits = unit === '×' ? 2 : 1;
  return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en') : value.toFixed(digits);
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

async function main(): Promise<void> {
  console.log(`Agent Task Worker benchmarks — ${new Date().toISOString()}`);
  console.log(`machine: ${machine()}\n`);
  const rows: BenchRow[] = [];
  let failed = false;
  for (const section of sections) {
    const started = Date.now();
    try {
      rows.push(...(await section.run()));
    } catch (error) {
      failed = true;
      rows.push({ name: `${section.title}: ERROR`, value: Number.NaN, unit: '', note: error instanceof Error ? error.message.split('\n')[0] : String(error) });
    }
    process.stderr.write(`  ${section.title} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  const table = rows.map((row) => ({
    figure: row.name,
    value: `${format(row.value, row.unit)} ${row.unit}`.trim(),
    baseline: row.baseline === undefined ? '' : `${format(row.baseline, row.unit)} ${row.unit}`.trim(),
    ratio: row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}×`,
    note: row.note ?? '',
  }));
  const widths = Object.fromEntries(Object.keys(table[0]).map((key) => [key, Math.max(key.length, ...table.map((line) => line[key as keyof typeof line].length))]));
  const line = (cells: Record<string, string>): string =>
    `| ${Object.keys(widths).map((key) => (key === 'figure' || key === 'note' ? cells[key].padEnd(widths[key]) : cells[key].padStart(widths[key]))).join(' | ')} |`;
  console.log(line(Object.fromEntries(Object.keys(widths).map((key) => [key, key]))));
  console.log(`|${Object.values(widths).map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const entry of table) console.log(line(entry));
  console.log('\nratio = value / baseline measured in this run (lower is better).');
  if (failed) process.exitCode = 1;
}

void main();
