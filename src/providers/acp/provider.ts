import type { Logger } from '../../core/events';
import type { ProviderId } from '../../core/task-state';
import type { ProviderAdapter, ProviderCapabilities, RunContext, RunOutcome, TaskHandle } from '../../core/ports';
import { PROVIDER_CAPABILITIES } from '../capabilities';
import { stopLiveRuns, type ProviderKeeperOptions } from '../stdio/keeper-run';
import { isKeeperError, keeperRefFrom, type KeeperTransport } from '../../keeper';
import { CommandNotFoundError } from '../transport/process-transport';
import type { MessageTransport } from '../transport/transport';
import type { AcpAgentLaunch } from './connection';
import { AcpReattachTransport } from './reattach';
import type { AcpRun, AcpRunEnd, AcpRunPlan, AcpTurnEnd } from './run';

export const ACP_AGENTS_SETTING = 'agentTasks.acpAgents';

/** What an agent is told when a task is resumed after its process stopped with the window. */
export const ACP_RESUME_PROMPT =
  'Your previous run of this task was interrupted: the editor window closed and your process stopped. ' +
  'Any tool call that was waiting for approval did not run. Check the current state of the workspace, then continue the task.';

/** An entry of the `agentTasks.acpAgents` setting. */
export interface AcpAgentConfig {
  name: string;
  command: string;
  args?: string[];
  env?: Record<string, string>;
}

export interface AcpProviderOptions {
  /** `acp:<name>` for agents from the setting. */
  id: ProviderId;
  displayName: string;
  command: string;
  args?: readonly string[];
  /** Merged under the profile's env. */
  env?: Record<string, string>;
  log: Logger;
  capabilities?: ProviderCapabilities;
  /** The extension version, sent as client info. */
  clientVersion?: string;
  /** How long a cancel waits for the prompt to return `cancelled` (default 2 s). */
  cancelGraceMs?: number;
  /** How often streaming transcript entries are re-emitted (default 100 ms; 0 = every chunk). */
  flushIntervalMs?: number;
  /** Runs the agent under a keeper so that it outlives the window (DESIGN §5). */
  keeper?: ProviderKeeperOptions;
}

/**
 * Runs tasks on any Agent Client Protocol agent over stdio (built on @agentclientprotocol/sdk). One process per
 * run; follow-ups and recovery use session/load when the agent supports it.
 */
export class AcpProvider implements ProviderAdapter {
  readonly id: ProviderId;
  readonly displayName: string;
  readonly capabilities: ProviderCapabilities;
  /** Running runs and the promise of their end (the process gone, or let go of under its keeper). */
  private readonly live = new Map<AcpRun, Promise<unknown>>();
  private runCounter = 0;

  constructor(protected readonly options: AcpProviderOptions) {
    this.id = options.id;
    this.displayName = options.displayName;
    this.capabilities = options.capabilities ?? PROVIDER_CAPABILITIES.acp.capabilities;
  }

  /** A provider for an `agentTasks.acpAgents` entry (`acp:<name>`). */
  static fromConfig(config: AcpAgentConfig, log: Logger, clientVersion?: string, keeper?: ProviderKeeperOptions): AcpProvider {
    return new AcpProvider({
      id: `acp:${config.name}`,
      displayName: config.name,
      command: config.command,
      args: config.args,
      env: config.env,
      log,
      clientVersion,
      keeper,
    });
  }

  async start(context: RunContext, handle: TaskHandle): Promise<RunOutcome> {
    const { task } = context;
    const plan: AcpRunPlan =
      task.continueSession && task.sessionId ? { kind: 'continue', sessionId: task.sessionId, prompt: task.prompt } : { kind: 'new', prompt: task.prompt };
    return (await this.run(context, handle, plan)).outcome;
  }

  /**
   * Continues a task whose process stopped with the window: session/load of its session and a prompt that says
   * what happened. A pending permission is not asked again (the agent reports the tool call as interrupted).
   */
  async resume(context: RunContext, handle: TaskHandle): Promise<RunOutcome> {
    const { task } = context;
    const saved = task.providerState?.sessionId;
    const sessionId = typeof saved === 'string' ? saved : task.sessionId;
    const ref = keeperRefFrom(task.providerState);
    if (ref && this.options.keeper) {
      let keeper: KeeperTransport | undefined;
      try {
        keeper = await this.options.keeper.launcher.attach(ref, { onStderr: (text) => context.log.trace(`[${this.displayName} stderr] ${text.trimEnd()}`) });
      } catch (error) {
        const why = isKeeperError(error, 'gone') ? error.message : `could not reattach: ${error instanceof Error ? error.message : String(error)}`;
        handle.appendOutput({ kind: 'status', text: `[recovery] ${this.displayName} is no longer running under its keeper (${why}).` });
      }
      if (keeper) {
        const transport = new AcpReattachTransport(keeper, context.log);
        if (!sessionId) {
          transport.kill();
        } else {
          handle.appendOutput({ kind: 'status', text: `[recovery] Reattached to ${this.displayName}, which kept running under its keeper while the window was closed.` });
          const savedKey = task.providerState?.runKey;
          const end = await this.run(context, handle, { kind: 'reattach', sessionId }, { transport, runKey: typeof savedKey === 'string' ? savedKey : undefined });
          if (!end.exitedEarly || context.signal.aborted) return end.outcome;
          handle.appendOutput({
            kind: 'status',
            text: `[recovery] ${this.displayName} stopped without finishing the turn${end.outcome.status === 'failed' ? ` (${end.outcome.error.split('\n')[0]})` : ''}.`,
          });
        }
      }
    }
    if (!sessionId) {
      handle.appendOutput({ kind: 'status', text: `[recovery] ${this.displayName} stopped before it started a session; there is nothing to resume.` });
      return { status: 'failed', error: `The ${this.displayName} session was lost before it started. Retry the task.` };
    }
    handle.appendOutput({
      kind: 'status',
      text: `[recovery] ${this.displayName} stopped when the window closed. Loading session ${sessionId} (session/load); an approval that was pending is not asked again.`,
    });
    return (await this.run(context, handle, { kind: 'recover', sessionId, prompt: ACP_RESUME_PROMPT })).outcome;
  }

  /** Stops every running agent process (see stopLiveRuns). */
  dispose(): Promise<void> {
    return stopLiveRuns(this.live);
  }

  /** How to start the agent for this run; undefined when the executable cannot be found. */
  protected launch(context: RunContext): AcpAgentLaunch | undefined {
    return {
      command: this.options.command,
      args: this.options.args ?? [],
      env: { ...this.options.env, ...context.profile?.env },
    };
  }

  /** The outcome when the executable is missing. */
  protected missingCommand(): RunOutcome {
    return {
      status: 'failed',
      error: `The ACP agent "${this.displayName}" could not be started: "${this.options.command}" was not found. Fix its command in ${ACP_AGENTS_SETTING}.`,
      action: { kind: 'openSettings', setting: ACP_AGENTS_SETTING, label: 'Open Settings' },
    };
  }

  /** Classifies a turn that ended; undefined keeps the default (end_turn completes). */
  protected classifyTurnEnd(_turn: AcpTurnEnd): RunOutcome | undefined {
    return undefined;
  }

  private async run(
    context: RunContext,
    handle: TaskHandle,
    plan: AcpRunPlan,
    reattach?: { transport: AcpReattachTransport; runKey?: string },
  ): Promise<AcpRunEnd> {
    if (context.signal.aborted) {
      if (reattach && context.signal.reason === 'shutdown') await reattach.transport.detach();
      else reattach?.transport.kill();
      reattach?.transport.dispose();
      return { outcome: { status: 'aborted' }, notFound: false };
    }
    const launch = reattach ? { command: this.options.command, args: [] } : this.launch(context);
    if (!launch) return { outcome: this.missingCommand(), notFound: true };
    const runKey = reattach?.runKey ?? `${this.id}-${context.task.id}-${Date.now().toString(36)}-${++this.runCounter}`;
    let transport: MessageTransport | undefined = reattach?.transport;
    let providerState: Record<string, unknown> | undefined = reattach ? { keeper: reattach.transport.keeper.ref, runKey } : undefined;
    if (!reattach) {
      this.options.log.debug(`${this.displayName}: ${launch.command} ${launch.args.join(' ')} in ${context.task.cwd} (${plan.kind})`);
      const keeper = this.options.keeper;
      if (keeper) {
        try {
          const started = await keeper.launcher.start({
            command: launch.command,
            args: launch.args,
            cwd: context.task.cwd,
            env: launch.env,
            onStderr: (text) => context.log.trace(`[${this.displayName} stderr] ${text.trimEnd()}`),
            taskId: context.task.id,
            provider: this.id,
            keepRunningMs: keeper.keepRunningMs(),
          });
          transport = started;
          providerState = { keeper: started.ref, runKey };
          const sessionId = 'sessionId' in plan ? plan.sessionId : undefined;
          handle.setProviderState(sessionId ? { ...providerState, sessionId } : providerState);
        } catch (error) {
          if (error instanceof CommandNotFoundError) return { outcome: this.missingCommand(), notFound: true };
          this.options.log.warn(`${this.displayName}: could not start a keeper (${error instanceof Error ? error.message : String(error)}); running it as a child of the window, so it will not survive a reload`);
        }
        if (context.signal.aborted) {
          transport?.kill();
          return { outcome: { status: 'aborted' }, notFound: false };
        }
      }
    }
    // Loaded on the first ACP run, not at activation: the ACP SDK builds its zod schemas when it loads.
    const { AcpRun } = await import('./run');
    const run = new AcpRun({
      transport,
      providerState,
      launch,
      agentName: this.displayName,
      cwd: context.task.cwd,
      handle,
      signal: context.signal,
      log: context.log,
      runKey,
      usageBefore: context.task.usage,
      clientVersion: this.options.clientVersion ?? '0.0.0',
      cancelGraceMs: this.options.cancelGraceMs,
      flushIntervalMs: this.options.flushIntervalMs,
      classifyTurnEnd: (turn) => this.classifyTurnEnd(turn),
    });
    const ending = run.execute(plan);
    this.live.set(run, ending);
    try {
      const end = await ending;
      return end.notFound ? { ...end, outcome: this.missingCommand() } : end;
    } finally {
      this.live.delete(run);
    }
  }
}
