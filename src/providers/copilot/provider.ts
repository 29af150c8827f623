import type { Logger } from '../../core/events';
import type { RunContext, RunOutcome, TaskHandle } from '../../core/ports';
import { checkVersionFloor, executableVersion } from '../cli-versions';
import type { AcpAgentLaunch } from '../acp/connection';
import { AcpProvider } from '../acp/provider';
import type { AcpTurnEnd } from '../acp/run';
import { PROVIDER_CAPABILITIES } from '../capabilities';
import type { ProviderKeeperOptions } from '../stdio/keeper-run';
import { resolveCopilotExecutable } from './executable';

export const COPILOT_PATH_SETTING = 'agentTasks.copilot.path';

export interface CopilotProviderOptions {
  /** The `agentTasks.copilot.path` setting, read at every run; empty or undefined looks `copilot` up on PATH. */
  copilotPath: () => string | undefined;
  log: Logger;
  clientVersion?: string;
  /** How long a cancel waits for the prompt to return `cancelled` (default 2 s). */
  cancelGraceMs?: number;
  /** How often streaming transcript entries are re-emitted (default 100 ms; 0 = every chunk). */
  flushIntervalMs?: number;
  /** Runs Copilot under a keeper so that it outlives the window (DESIGN §5). */
  keeper?: ProviderKeeperOptions;
}

/**
 * Runs tasks on GitHub Copilot CLI as an ACP agent, `copilot --acp` (PROTOCOLS.md §3). The profile's configDir
 * arrives as COPILOT_HOME in its env. Copilot reports a 429 only as agent text, which is classified here.
 */
export class CopilotProvider extends AcpProvider {
  constructor(private readonly copilot: CopilotProviderOptions) {
    super({
      id: 'copilot',
      displayName: 'GitHub Copilot CLI',
      command: 'copilot',
      args: ['--acp'],
      log: copilot.log,
      capabilities: PROVIDER_CAPABILITIES.copilot.capabilities,
      clientVersion: copilot.clientVersion,
      cancelGraceMs: copilot.cancelGraceMs,
      flushIntervalMs: copilot.flushIntervalMs,
      keeper: copilot.keeper,
    });
  }

  /** Refuses a Copilot CLI older than its floor (CLI_VERSION_FLOORS) before starting it. */
  override async start(context: RunContext, handle: TaskHandle): Promise<RunOutcome> {
    const command = resolveCopilotExecutable(this.copilot.copilotPath());
    if (command) {
      const tooOld = checkVersionFloor('copilot', await executableVersion(command));
      if (tooOld) return { status: 'failed', error: tooOld.message, action: tooOld.action };
    }
    return super.start(context, handle);
  }

  protected override launch(context: RunContext): AcpAgentLaunch | undefined {
    const command = resolveCopilotExecutable(this.copilot.copilotPath());
    if (!command) return undefined;
    const model = context.task.model ? ['--model', context.task.model] : [];
    return { command, args: ['--acp', ...model], env: { ...context.profile?.env } };
  }

  protected override missingCommand(): RunOutcome {
    const configured = this.copilot.copilotPath()?.trim();
    return {
      status: 'failed',
      error: configured
        ? `GitHub Copilot CLI was not found at "${configured}". Fix the ${COPILOT_PATH_SETTING} setting.`
        : `GitHub Copilot CLI was not found on PATH. Install it (npm install -g @github/copilot) or set ${COPILOT_PATH_SETTING} to the copilot executable.`,
      action: { kind: 'openSettings', setting: COPILOT_PATH_SETTING, label: 'Open Settings' },
    };
  }

  protected override classifyTurnEnd(turn: AcpTurnEnd): RunOutcome | undefined {
    return classifyCopilotTurn(turn);
  }
}

/**
 * Copilot ends a turn it could not complete with `end_turn` and an "Error: …" agent message (and no usage); a 429
 * after its retries reads "Failed to get response from the AI model; retried … Last error: 429 …" (PROTOCOLS.md §3).
 */
export function classifyCopilotTurn(turn: AcpTurnEnd): RunOutcome | undefined {
  if (turn.stopReason !== 'end_turn') return undefined;
  const text = turn.lastText.trim();
  const error = text.replace(/^Error:\s*/, '');
  if (/Failed to get response from the AI model/i.test(text) && /\b429\b|rate limit/i.test(text)) {
    return { status: 'rate_limited', error };
  }
  if (!turn.usage && /^Error:/.test(text)) return { status: 'failed', error };
  return undefined;
}
