import { randomUUID } from 'node:crypto';
import type { Logger } from '../../core/events';
import type { TaskState } from '../../core/task-state';
import type { ProviderAdapter, RunContext, RunOutcome, TaskHandle } from '../../core/ports';
import { PROVIDER_CAPABILITIES } from '../capabilities';
import { isKeeperError, keeperRefFrom, type KeeperTransport } from '../../keeper';
import { stopLiveRuns, type ProviderKeeperOptions } from '../stdio/keeper-run';
import { CommandNotFoundError } from '../transport/process-transport';
import type { MessageTransport } from '../transport/transport';
import { checkVersionFloor, executableVersion } from '../cli-versions';
import { resolveClaudeExecutable } from './executable';
import { ClaudeRun, type ClaudeRunEnd } from './run';

export const CLAUDE_PATH_SETTING = 'agentTasks.claude.path';

/** What Claude Code is told when a task is resumed after its process stopped with the window. */
export const CLAUDE_RESUME_PROMPT =
  'Your previous run of this task was interrupted: the editor window closed and the Claude Code process stopped. ' +
  'Any tool call that was waiting for approval did not run. Check the current state of the workspace, then continue the task.';

export interface ClaudeProviderOptions {
  /** The `agentTasks.claude.path` setting, read at every run; empty or undefined looks `claude` up on PATH. */
  claudePath: () => string | undefined;
  log: Logger;
  /** How long a cancel waits for Claude Code to confirm the interrupt (default 2 s). */
  interruptGraceMs?: number;
  /** How often streaming transcript entries are re-emitted (default 100 ms; 0 = every delta). */
  flushIntervalMs?: number;
  /** Stream text as it is generated (`--include-partial-messages`, default true). */
  streamPartialMessages?: boolean;
  /**
   * Runs Claude Code under a keeper so that it outlives the window (DESIGN §5); without it (or when the keeper
   * cannot start) the process is a child of the extension host.
   */
  keeper?: ProviderKeeperOptions;
}

interface RunRequest {
  prompt: string;
  /** `--resume <id>`: continue this conversation. Otherwise a new one starts with a preset `--session-id`. */
  resumeSessionId?: string;
  /** Reattach to this keeper's Claude Code instead of starting a process. */
  reattach?: { transport: KeeperTransport; runKey?: string };
}

/**
 * Runs tasks on Claude Code's headless mode, `claude -p` with stream-json on stdin and stdout
 * (PROTOCOLS.md §2). One process per run; follow-ups and recovery continue the saved session with `--resume`.
 */
export class ClaudeProvider implements ProviderAdapter {
  readonly id = 'claude-cli';
  readonly displayName = 'Claude Code';
  readonly capabilities = PROVIDER_CAPABILITIES['claude-cli'].capabilities;
  /** Running runs and the promise of their end (the process gone, or let go of under its keeper). */
  private readonly live = new Map<ClaudeRun, Promise<unknown>>();
  private runCounter = 0;

  constructor(private readonly options: ClaudeProviderOptions) {}

  async start(context: RunContext, handle: TaskHandle): Promise<RunOutcome> {
    const { task } = context;
    const continuing = task.continueSession && task.sessionId ? task.sessionId : undefined;
    let end = await this.run(context, handle, { prompt: task.prompt, resumeSessionId: continuing });
    if (end.sessionLost && continuing && !context.signal.aborted) {
      handle.appendOutput({
        kind: 'status',
        text: `Claude Code has no saved conversation ${continuing} to continue; starting a new conversation.`,
      });
      end = await this.run(context, handle, { prompt: task.prompt });
    }
    return end.outcome;
  }

  /**
   * Continues a task whose process stopped with the window: `--resume <session>` with a prompt that says what
   * happened. Claude Code does not ask a pending approval again, and a session that stopped in its first seconds
   * was never saved (PROTOCOLS.md §2), which fails the task with that explanation.
   */
  async resume(context: RunContext, handle: TaskHandle): Promise<RunOutcome> {
    const { task } = context;
    const ref = keeperRefFrom(task.providerState);
    if (ref && this.options.keeper) {
      let transport: KeeperTransport | undefined;
      try {
        transport = await this.options.keeper.launcher.attach(ref, { onStderr: (text) => context.log.trace(`[claude stderr] ${text.trimEnd()}`) });
      } catch (error) {
        const why = isKeeperError(error, 'gone') ? error.message : `Could not reattach: ${error instanceof Error ? error.message : String(error)}`;
        recovery(handle, `Claude Code is no longer running under its keeper (${why}).`);
      }
      if (transport) {
        recovery(handle, `Reattached to Claude Code, which kept running under its keeper while the window was closed.`);
        const savedKey = task.providerState?.runKey;
        const end = await this.run(context, handle, { prompt: '', reattach: { transport, runKey: typeof savedKey === 'string' ? savedKey : undefined } });
        if (!end.exitedEarly || context.signal.aborted) return end.outcome;
        recovery(handle, `Claude Code stopped without finishing the turn${end.outcome.status === 'failed' ? ` (${end.outcome.error.split('\n')[0]})` : ''}.`);
      }
    }
    const saved = task.providerState?.sessionId;
    const sessionId = typeof saved === 'string' ? saved : task.sessionId;
    if (!sessionId) {
      recovery(handle, 'Claude Code stopped before it reported a session, so there is nothing to resume.');
      return { status: 'failed', error: 'The Claude Code session was lost: the process stopped before it started a session. Retry the task.' };
    }
    recovery(handle, `Claude Code stopped when the window closed. Resuming session ${sessionId} (claude --resume); an approval that was pending is not asked again.`);
    const end = await this.run(context, handle, { prompt: CLAUDE_RESUME_PROMPT, resumeSessionId: sessionId });
    if (end.sessionLost) {
      recovery(handle, `Claude Code had not saved session ${sessionId} yet, so it cannot be resumed.`);
      return {
        status: 'failed',
        error: `The Claude Code session ${sessionId} was lost: Claude Code saves a session a few seconds after it starts, and this one stopped before that. Retry the task to start over.`,
      };
    }
    return end.outcome;
  }

  /** Stops every running Claude Code process (see stopLiveRuns). */
  dispose(): Promise<void> {
    return stopLiveRuns(this.live);
  }

  private async run(context: RunContext, handle: TaskHandle, request: RunRequest): Promise<ClaudeRunEnd> {
    if (context.signal.aborted) {
      if (request.reattach && context.signal.reason === 'shutdown') await request.reattach.transport.detach();
      else request.reattach?.transport.kill();
      return { outcome: { status: 'aborted' }, sessionLost: false, notFound: false };
    }
    const command = request.reattach ? 'claude' : resolveClaudeExecutable(this.options.claudePath());
    if (!command) return { outcome: this.notFound(), sessionLost: false, notFound: true };
    if (!request.reattach) {
      // An older Claude Code lacks what this client uses: refuse it before starting it (CLI_VERSION_FLOORS).
      const tooOld = checkVersionFloor('claude-cli', await executableVersion(command));
      if (tooOld) return { outcome: { status: 'failed', error: tooOld.message, action: tooOld.action }, sessionLost: false, notFound: false };
    }
    // A new conversation gets its id up front (--session-id); Claude Code reports it again in system/init.
    const sessionId = request.resumeSessionId ?? randomUUID();
    const runKey = request.reattach?.runKey ?? `claude-${context.task.id}-${Date.now().toString(36)}-${++this.runCounter}`;
    const args = claudeArgs(context.task, request.resumeSessionId ? { resume: request.resumeSessionId } : { sessionId }, this.options.streamPartialMessages ?? true);
    const env = claudeEnv(context.profile?.env);
    const onStderr = (text: string): void => context.log.trace(`[claude stderr] ${text.trimEnd()}`);
    let transport: MessageTransport | undefined = request.reattach?.transport;
    let providerState: Record<string, unknown> | undefined;
    if (transport) {
      providerState = { keeper: request.reattach?.transport.ref, runKey };
    } else {
      this.options.log.debug(`Claude Code: ${command} ${request.resumeSessionId ? `--resume ${sessionId}` : `--session-id ${sessionId}`} in ${context.task.cwd}`);
      const keeper = this.options.keeper;
      if (keeper) {
        try {
          const started = await keeper.launcher.start({
            command,
            args,
            cwd: context.task.cwd,
            env,
            onStderr,
            taskId: context.task.id,
            provider: this.id,
            keepRunningMs: keeper.keepRunningMs(),
          });
          transport = started;
          providerState = { keeper: started.ref, runKey };
          handle.setProviderState({ ...providerState, sessionId });
        } catch (error) {
          if (error instanceof CommandNotFoundError) return { outcome: this.notFound(), sessionLost: false, notFound: true };
          this.options.log.warn(`Claude Code: could not start a keeper (${error instanceof Error ? error.message : String(error)}); running it as a child of the window, so it will not survive a reload`);
        }
        if (context.signal.aborted) {
          // Cancelled (or the window closed) while the keeper started: end the agent.
          transport?.kill();
          return { outcome: { status: 'aborted' }, sessionLost: false, notFound: false };
        }
      }
    }
    const run = new ClaudeRun({
      command,
      args,
      cwd: context.task.cwd,
      env,
      prompt: request.prompt,
      handle,
      signal: context.signal,
      log: context.log,
      runKey,
      usageBefore: context.task.usage,
      interruptGraceMs: this.options.interruptGraceMs,
      flushIntervalMs: this.options.flushIntervalMs,
      transport,
      providerState,
      reattach: request.reattach !== undefined,
    });
    const ending = run.execute();
    this.live.set(run, ending);
    try {
      const end = await ending;
      return end.notFound ? { ...end, outcome: this.notFound() } : end;
    } finally {
      this.live.delete(run);
    }
  }

  private notFound(): RunOutcome {
    const configured = this.options.claudePath()?.trim();
    return {
      status: 'failed',
      error: configured
        ? `Claude Code was not found at "${configured}". Fix the ${CLAUDE_PATH_SETTING} setting.`
        : `Claude Code was not found on PATH. Install it (npm install -g @anthropic-ai/claude-code) or set ${CLAUDE_PATH_SETTING} to the claude executable.`,
      action: { kind: 'openSettings', setting: CLAUDE_PATH_SETTING, label: 'Open Settings' },
    };
  }
}

/** The command line of a headless, stream-json Claude Code run that asks every permission over stdio. */
export function claudeArgs(task: Pick<TaskState, 'model' | 'taskType'>, session: { resume: string } | { sessionId: string }, partialMessages: boolean): string[] {
  const args = ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--permission-prompt-tool', 'stdio'];
  if (partialMessages) args.push('--include-partial-messages');
  if ('resume' in session) args.push('--resume', session.resume);
  else args.push('--session-id', session.sessionId);
  if (task.model) args.push('--model', task.model);
  if (task.taskType === 'planner') args.push('--permission-mode', 'plan');
  return args;
}

/**
 * The environment: the profile's (CLAUDE_CONFIG_DIR, keys, base URL) over Claude Code's quiet defaults. Retries
 * are kept to one so that a 429 reaches the task in seconds, not minutes; a profile can raise
 * CLAUDE_CODE_MAX_RETRIES.
 */
export function claudeEnv(profileEnv: Record<string, string> | undefined): Record<string, string> {
  return {
    CLAUDE_CODE_MAX_RETRIES: '1',
    ...profileEnv,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
  };
}

function recovery(handle: TaskHandle, text: string): void {
  handle.appendOutput({ kind: 'status', text: `[recovery] ${text}` });
}
