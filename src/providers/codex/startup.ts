// Two pieces of starting an app-server that need none of its state: the initialize handshake and the crash backoff.
import { delay } from '../../platform/process';
import { parseVersion } from '../cli-versions';
import type { CodexRpcConnection } from './rpc';

/** The handshake on a fresh connection. Returns Codex's version from its user agent ("<client>/<version> (<os>) …"). */
export async function initialize(connection: CodexRpcConnection, clientInfo: { name: string; title: string; version: string }): Promise<string | undefined> {
  const initialized = await connection.request('initialize', { clientInfo, capabilities: { experimentalApi: true, requestAttestation: false } }, { timeoutMs: 15000 });
  connection.notify('initialized');
  return parseVersion(initialized.userAgent);
}

/** Repeated crashes delay the next start: 1 s, 2 s, 4 s … up to 30 s for crashes within two minutes. */
export class CrashBackoff {
  private readonly times: number[] = [];

  record(at = Date.now()): void {
    this.times.push(at);
  }

  /** Waits out the backoff, if any; `onWait` hears how long and after how many recent crashes. */
  async wait(onWait: (ms: number, crashes: number) => void): Promise<void> {
    const now = Date.now();
    while (this.times.length && now - this.times[0] > 120_000) this.times.shift();
    if (this.times.length < 2) return;
    const remaining = this.times[this.times.length - 1] + Math.min(30_000, 1000 * 2 ** (this.times.length - 2)) - now;
    if (remaining <= 0) return;
    onWait(remaining, this.times.length);
    await delay(remaining);
  }
}
