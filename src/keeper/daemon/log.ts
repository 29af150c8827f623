/** One line in the keeper's log (its stderr, redirected to k-<id>.log). */
export function log(message: string): void {
  try {
    process.stderr.write(`${new Date().toISOString()} [keeper ${process.pid}] ${message}\n`);
  } catch {
    // No log file.
  }
}
