// What the stdio providers (Claude Code, ACP agents and Copilot) share about running agents under keepers.
import type { TaskHandle } from '../../core/ports';
import type { KeeperLauncher } from '../../keeper';
import { StreamingOutput } from './streaming-output';

/** How a stdio provider runs its agents under keepers. */
export interface ProviderKeeperOptions {
  launcher: KeeperLauncher;
  /** agentTasks.keepRunningMinutes in ms, read at every start. */
  keepRunningMs: () => number;
}

/**
 * The transcript output of a run, which can be muted: after a reattach the keeper replays lines the previous window
 * already showed, and those are not written again.
 */
export function mutableOutput(handle: TaskHandle, isMuted: () => boolean, flushIntervalMs = 100): StreamingOutput {
  return new StreamingOutput(
    {
      appendOutput: (entry) => {
        if (!isMuted()) handle.appendOutput(entry);
      },
    },
    flushIntervalMs,
  );
}

/**
 * Stops every live run; a run under a keeper that the window's 'shutdown' abort already let go of keeps running.
 * Waits (briefly) until every run has ended or let go of its keeper, so the host does not exit mid-detach.
 */
export async function stopLiveRuns(live: ReadonlyMap<{ kill(): void }, Promise<unknown>>): Promise<void> {
  for (const run of live.keys()) run.kill();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)));
  await Promise.race([Promise.allSettled([...live.values()]), limit]);
  clearTimeout(timer);
}
