// Types for code-server.mjs, for the TypeScript tests that import it.
import type { ChildProcess } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import type { VsCodeHost } from './paths.mjs';

export declare function freePort(): Promise<number>;
export declare function waitForHealthz(port: number, options?: { timeoutMs?: number; isDead?: () => boolean }): Promise<void>;
export declare function writeUserSettings(userDataDir: string, settings: Record<string, unknown>): void;
export declare function writeHostSettings(userDataDir: string, host?: VsCodeHost): void;
export declare function killGroup(pid: number | undefined, signal?: NodeJS.Signals): void;
export declare const PROCESS_MARKER: string;
export declare function killProcessesWithEnv(name: string, value: string, signal?: NodeJS.Signals): number;

export interface StartCodeServerOptions {
  userDataDir: string;
  extensionsDir: string;
  folder?: string;
  port?: number;
  trusted?: boolean;
  env?: Record<string, string>;
  extraArgs?: string[];
  log?: (line: string) => void;
  /** The address to bind (default 127.0.0.1). */
  host?: string;
  timeoutMs?: number;
  /** The VS Code host (default: ATW_HOST, else current). */
  vscodeHost?: VsCodeHost;
  /** Whether the workbench URL will load an extension from its payload (default true; see startCodeServer). */
  extensionDevelopment?: boolean;
}

export interface RunningCodeServer {
  port: number;
  pid: number;
  child: ChildProcess;
  marker: string;
  stop(options?: { graceMs?: number; keepSpawned?: boolean }): Promise<void>;
  hasExited(): boolean;
  host: VsCodeHost;
}

export declare function startCodeServer(options: StartCodeServerOptions): Promise<RunningCodeServer>;
export declare function workbenchUrl(options: {
  port: number;
  folder?: string;
  extensionDevelopmentPath?: string;
  extensionTestsPath?: string;
}): string;
export declare function installExtensionFolder(extensionDir: string, extensionsDir: string): string;
export declare function launchChromium(): Promise<Browser>;
export declare function forwardExtensionHostConsole(
  page: Page,
  write: (text: string, level: 'INFO' | 'WARN' | 'ERR') => void,
  options?: { keepNoise?: boolean },
): void;
export declare function declineWorkspaceTrust(page: Page): () => void;
