import type { Logger } from '../../core/events';
import { PROVIDER_CAPABILITIES } from '../capabilities';
import type { TaskState } from '../../core/task-state';
import type {
  ProviderAdapter,
  ProviderCapabilities,
  ResolvedProfile,
  ReviewRequest,
  RunContext,
  RunOutcome,
  TaskHandle,
} from '../../core/ports';
import { AbortedError } from '../../platform/abort';
import { privateDirFor } from '../../platform/private-dir';
import { CodexAppServer, CodexStartError } from './app-server';
import { resolveCodexExecutable } from './executable';
import type { AskForApproval } from './protocol/v2/AskForApproval';
import type { CollaborationMode } from './protocol/CollaborationMode';
import type { DynamicToolSpec } from './protocol/v2/DynamicToolSpec';
import type { SandboxMode } from './protocol/v2/SandboxMode';
import type { Turn } from './protocol/v2/Turn';
import type { UserInput } from './protocol/v2/UserInput';
import { CliTooOldError, isMethodNotFound } from '../cli-versions';
import { parseCodexReview } from './review';
import { ConnectionClosedError, RpcError } from './rpc';
import { CodexThreadRun } from './thread-run';

export const CODEX_PATH_SETTING = 'agentTasks.codex.path';

/** What the Codex provider can do (DESIGN §4: capabilities are data). */
/** Codex's row of the capability table (src/providers/capabilities.ts). */
export const CODEX_CAPABILITIES: ProviderCapabilities = PROVIDER_CAPABILITIES.codex.capabilities;

/** Thread settings a task runs with; unset fields are left to the profile's Codex config (config.toml). */
export interface CodexThreadPolicy {
  approvalPolicy?: AskForApproval;
  sandbox?: SandboxMode;
}

export interface CodexProviderOptions {
  /** The `agentTasks.codex.path` setting, read at every server start; empty or undefined looks codex up on PATH. */
  codexPath: () => string | undefined;
  /** The workspace folder; it names the private socket directory shared by every window on this workspace. */
  workspacePath: string;
  log: Logger;
  /** Approval policy and sandbox per task (default: the profile's Codex config decides). */
  threadPolicy?: (task: Readonly<TaskState>) => CodexThreadPolicy;
  /** Client-defined tools offered to new threads; the model's calls become `dynamic_tool` questions. */
  dynamicTools?: readonly DynamicToolSpec[];
  /** Stop an app-server after this long with no task attached and no thread running (default 10 min; 0 = never). */
  idleShutdownMs?: number;
  /** `agentTasks.keepRunningMinutes`: stop an app-server this long after the last window let go of it (default 30). */
  keepRunningMinutes?: () => number | undefined;
  /** How long a cancel waits for Codex to confirm the interrupted turn (default 5 s). */
  interruptTimeoutMs?: number;
  /** How often streaming transcript entries are re-emitted (default 100 ms; 0 = every delta). */
  flushIntervalMs?: number;
  /** Overrides the socket directory (default: derived from the workspace path, see privateDirFor). */
  socketDir?: string;
  /** The extension version, sent to Codex as client info. */
  clientVersion?: string;
}

const CONTINUE_AFTER_CRASH_PROMPT =
  'The previous turn was interrupted because the Codex app-server stopped. Continue the task from where you left off.';

/**
 * Runs tasks on `codex app-server` (PROTOCOLS.md §1): one detached server per profile hosts a thread per task,
 * reached over a Unix socket so tasks survive a window reload.
 */
export class CodexProvider implements ProviderAdapter {
  readonly id = 'codex';
  readonly displayName = 'Codex';
  readonly capabilities = CODEX_CAPABILITIES;

  private readonly servers = new Map<string, CodexAppServer>();
  private readonly socketDir: string;
  private disposed = false;

  constructor(private readonly options: CodexProviderOptions) {
    this.socketDir = options.socketDir ?? privateDirFor(options.workspacePath);
  }

  async start(context: RunContext, handle: TaskHandle): Promise<RunOutcome> {
    const { task, signal } = context;
    const connected = await this.connect(context);
    if ('status' in connected) return connected;
    const server = connected.server;
    // DESIGN §9: a review task is read-only, whatever the profile's Codex config says.
    const policy: CodexThreadPolicy = { ...this.options.threadPolicy?.(task), ...(task.reviewOf !== undefined ? { sandbox: 'read-only' } : {}) };
    let run: CodexThreadRun | undefined;
    let keepThreadLoaded = false;
    try {
      let model: string | undefined;
      let continuing = false;
      if (task.continueSession && task.sessionId) {
        run = this.newRun(server, task.sessionId, context, handle);
        try {
          const resumed = await server.request('thread/resume', {
            threadId: task.sessionId,
            cwd: task.cwd,
            model: task.model ?? null,
            approvalPolicy: policy.approvalPolicy ?? null,
            sandbox: policy.sandbox ?? null,
            excludeTurns: true,
          });
          model = resumed.model;
          continuing = true;
          if (resumed.thread.name) handle.setTitle(resumed.thread.name);
        } catch (error) {
          if (!(error instanceof RpcError)) throw error;
          run.dispose();
          run = undefined;
          handle.appendOutput({
            kind: 'status',
            text: `Could not continue the Codex conversation ${task.sessionId} (${error.message}); starting a new conversation.`,
          });
        }
      }
      // DESIGN §9: a review task reviews in Codex's own review mode; a follow-up of a review is an ordinary turn.
      const review = task.continueSession ? undefined : context.review;
      if (!run) {
        const started = await server.request('thread/start', {
          cwd: task.cwd,
          model: task.model ?? null,
          approvalPolicy: policy.approvalPolicy ?? null,
          sandbox: policy.sandbox ?? null,
          dynamicTools: this.options.dynamicTools?.length ? [...this.options.dynamicTools] : null,
          // Review mode runs its own reviewer (on `review_model`) with its own rubric; it keeps the developer instructions.
          ...(review ? { developerInstructions: review.about, ...(task.model ? { config: { review_model: task.model } } : {}) } : {}),
        });
        model = started.model;
        run = this.newRun(server, started.thread.id, context, handle);
        if (started.thread.name) handle.setTitle(started.thread.name);
      }
      handle.setSessionId(run.threadId);
      if (signal.aborted) return { status: 'aborted' };
      const turn = review
        ? await this.startReview(server, run, handle, review)
        : await this.startTurn(server, run, handle, task.prompt, collaborationModeFor(task, model, continuing));
      const outcome = await run.waitForTurn(turn.id);
      keepThreadLoaded = run.aborted === 'shutdown';
      return review ? reviewOutcome(outcome, run, turn.id, task.cwd, review) : outcome;
    } catch (error) {
      return this.requestFailure(error, server, run);
    } finally {
      this.finishRun(server, run, keepThreadLoaded);
    }
  }

  /**
   * Continues a task after the extension host restarted: reattaches to the still-running server (Codex re-sends a
   * pending approval on thread/resume, so it is asked again), or starts a new server and resumes the thread from its
   * rollout. The outcome follows what thread/resume reports about the task's turn.
   */
  async resume(context: RunContext, handle: TaskHandle): Promise<RunOutcome> {
    const { task, signal } = context;
    const state = task.providerState ?? {};
    const threadId = typeof state.threadId === 'string' ? state.threadId : task.sessionId;
    const lastTurnId = typeof state.turnId === 'string' ? state.turnId : undefined;
    if (!threadId) return { status: 'failed', error: 'This task has no Codex thread to resume.' };
    const connected = await this.connect(context);
    if ('status' in connected) return connected;
    const server = connected.server;
    const reused = server.reused;
    let run: CodexThreadRun | undefined;
    let keepThreadLoaded = false;
    try {
      run = this.newRun(server, threadId, context, handle);
      const resuming = server.request('thread/resume', {
        threadId,
        excludeTurns: true,
        initialTurnsPage: { limit: 5, sortDirection: 'desc', itemsView: 'full' },
      });
      // Codex re-sends a pending approval before it answers the resume; the diff it needs comes with the answer.
      const remembered = resuming.then((response) => {
        const recent = response.initialTurnsPage?.data ?? response.thread.turns;
        run?.rememberTurns(recent);
        return recent;
      });
      run.holdRequestsUntil(remembered);
      const resumed = await resuming;
      const turns = await remembered;
      handle.setSessionId(threadId);
      if (resumed.thread.name) handle.setTitle(resumed.thread.name);
      const turn = turns.find((candidate) => candidate.id === lastTurnId) ?? newestTurn(turns);
      const serverNote = reused ? `the running Codex app-server${server.pid ? ` (pid ${server.pid})` : ''}` : 'a new Codex app-server';
      // The last turn this task started was a review (review/start): it is read as one however it ended (DESIGN §9).
      const review = state.review === true ? context.review : undefined;
      let reviewTurnId = review ? turn?.id : undefined;
      let outcome: RunOutcome;
      if (turn?.status === 'inProgress') {
        recovery(handle, `Reattached to ${serverNote}; the turn is still running.`);
        outcome = await run.waitForTurn(turn.id);
      } else if (turn && turn.status !== 'interrupted') {
        recovery(handle, `Resumed thread ${threadId} on ${serverNote}; the turn had already ended (${turn.status}).`);
        outcome = run.outcomeOf(turn);
      } else if (review) {
        recovery(handle, `The review had been interrupted. Resumed thread ${threadId} on ${serverNote} and started the review again.`);
        if (signal.aborted) return { status: 'aborted' };
        const next = await this.startReview(server, run, handle, review);
        reviewTurnId = next.id;
        outcome = await run.waitForTurn(next.id);
      } else {
        recovery(
          handle,
          reused
            ? `Resumed thread ${threadId} on ${serverNote}; its last turn had been interrupted, so Codex was asked to continue.`
            : `The Codex app-server had stopped, so the turn was interrupted. Resumed thread ${threadId} in ${serverNote} and asked Codex to continue.`,
        );
        if (signal.aborted) return { status: 'aborted' };
        const next = await this.startTurn(server, run, handle, CONTINUE_AFTER_CRASH_PROMPT, collaborationModeFor(task, resumed.model, false));
        outcome = await run.waitForTurn(next.id);
      }
      keepThreadLoaded = run.aborted === 'shutdown';
      return review && reviewTurnId ? reviewOutcome(outcome, run, reviewTurnId, task.cwd, review) : outcome;
    } catch (error) {
      return this.requestFailure(error, server, run);
    } finally {
      this.finishRun(server, run, keepThreadLoaded);
    }
  }

  /** Disconnects from every app-server and leaves them running (a window reload); tasks reattach with resume(). */
  async dispose(): Promise<void> {
    this.disposed = true;
    await Promise.all([...this.servers.values()].map((server) => server.dispose()));
    this.servers.clear();
  }

  /** Stops every app-server this provider knows about (and their running turns). */
  async shutdown(): Promise<void> {
    this.disposed = true;
    await Promise.all([...this.servers.values()].map((server) => server.shutdown()));
    this.servers.clear();
  }

  /** The app-server of a profile (undefined = the default profile), creating its handle on first use. */
  serverFor(profile?: Pick<ResolvedProfile, 'id' | 'configDir' | 'env'>): CodexAppServer {
    const key = profile?.id ?? 'default';
    let server = this.servers.get(key);
    if (!server) {
      server = new CodexAppServer({
        profileKey: key,
        executable: () => resolveCodexExecutable(this.options.codexPath()),
        env: { ...(profile?.configDir ? { CODEX_HOME: profile.configDir } : {}), ...(profile?.env ?? {}) },
        socketDir: this.socketDir,
        log: this.options.log,
        clientInfo: { name: 'agent_task_worker', title: 'Agent Task Worker', version: this.options.clientVersion ?? '0.0.0' },
        idleShutdownMs: this.options.idleShutdownMs,
        keepRunningMs: () => (this.options.keepRunningMinutes?.() ?? 30) * 60_000,
      });
      this.servers.set(key, server);
    }
    return server;
  }

  private async connect(context: RunContext): Promise<{ server: CodexAppServer } | RunOutcome> {
    if (this.disposed) return { status: 'failed', error: 'The Codex provider was disposed.' };
    if (context.signal.aborted) return { status: 'aborted' };
    try {
      const server = this.serverFor(context.profile);
      await server.connect(context.signal);
      return { server };
    } catch (error) {
      if (error instanceof AbortedError || context.signal.aborted) return { status: 'aborted' };
      return this.startFailure(error);
    }
  }

  private newRun(server: CodexAppServer, threadId: string, context: RunContext, handle: TaskHandle): CodexThreadRun {
    return new CodexThreadRun({
      server,
      threadId,
      handle,
      signal: context.signal,
      log: context.log,
      cwd: context.task.cwd,
      interruptTimeoutMs: this.options.interruptTimeoutMs,
      flushIntervalMs: this.options.flushIntervalMs,
    });
  }

  private async startTurn(
    server: CodexAppServer,
    run: CodexThreadRun,
    handle: TaskHandle,
    text: string,
    collaborationMode: CollaborationMode | undefined,
  ): Promise<Turn> {
    const input: UserInput[] = [{ type: 'text', text, text_elements: [] }];
    const { turn } = await server.request('turn/start', { threadId: run.threadId, input, ...(collaborationMode ? { collaborationMode } : {}) });
    handle.setProviderState({ threadId: run.threadId, turnId: turn.id, profileKey: server.profileKey, socketPath: server.socketPath });
    return turn;
  }

  /**
   * DESIGN §9: Codex reviews the change in its own review mode — the diff against the base commit, which Codex
   * resolves to the merge base with HEAD — inline on the review thread. The task's prompt (the diff, for reviewers
   * without such a mode) is not sent.
   */
  private async startReview(server: CodexAppServer, run: CodexThreadRun, handle: TaskHandle, review: ReviewRequest): Promise<Turn> {
    const { turn } = await server.request('review/start', { threadId: run.threadId, target: { type: 'baseBranch', branch: review.baseCommit }, delivery: 'inline' });
    handle.setProviderState({ threadId: run.threadId, turnId: turn.id, profileKey: server.profileKey, socketPath: server.socketPath, review: true });
    return turn;
  }

  private finishRun(server: CodexAppServer, run: CodexThreadRun | undefined, keepThreadLoaded: boolean): void {
    if (!run) return;
    run.dispose();
    // Unload finished threads so a long-lived server does not keep every task's history in memory.
    if (!keepThreadLoaded && server.connected) {
      server.request('thread/unsubscribe', { threadId: run.threadId }, { timeoutMs: 5000 }).catch(() => undefined);
    }
  }

  private startFailure(error: unknown): RunOutcome {
    if (error instanceof CliTooOldError) return { status: 'failed', error: error.message, action: error.action };
    if (error instanceof CodexStartError && error.notFound) {
      const configured = this.options.codexPath()?.trim();
      return {
        status: 'failed',
        error: configured
          ? `Codex was not found at "${configured}". Fix the ${CODEX_PATH_SETTING} setting.`
          : `Codex was not found on PATH. Install it (npm install -g @openai/codex) or set ${CODEX_PATH_SETTING} to the codex executable.`,
        action: { kind: 'openSettings', setting: CODEX_PATH_SETTING, label: 'Open Settings' },
      };
    }
    const message = error instanceof Error ? error.message : String(error);
    const tail = error instanceof CodexStartError ? error.stderrTail.trim() : '';
    return { status: 'failed', error: tail ? `${message}:\n${tail.split('\n').slice(-20).join('\n')}` : message };
  }

  private requestFailure(error: unknown, server: CodexAppServer, run: CodexThreadRun | undefined): RunOutcome {
    if (run?.aborted) return { status: 'aborted' };
    if (error instanceof ConnectionClosedError) {
      return run ? run.lostOutcome({ exited: true, message: 'codex app-server stopped', stderrTail: server.stderrTail() }) : { status: 'failed', error: error.message };
    }
    if (error instanceof RpcError && isMethodNotFound(error.code, error.message)) {
      // An older Codex that passed (or could not be asked for) the version check still lacks this method.
      const tooOld = new CliTooOldError('codex', server.version, error.method);
      return { status: 'failed', error: tooOld.message, action: tooOld.action };
    }
    return { status: 'failed', error: error instanceof Error ? error.message : String(error) };
  }
}

function collaborationModeFor(task: Readonly<TaskState>, model: string | undefined, continuing: boolean): CollaborationMode | undefined {
  const settings = { model: task.model ?? model ?? '', reasoning_effort: null, developer_instructions: null };
  if (task.taskType === 'planner') return { mode: 'plan', settings };
  // A follow-up of a planning task leaves plan mode explicitly (the mode sticks to the thread).
  if (continuing) return { mode: 'default', settings };
  return undefined;
}

/**
 * A finished review turn's outcome: the review as Codex's `exitedReviewMode` gave it becomes the result, and its findings
 * come along when it is in Codex's review format; otherwise the core reads the result (one `info` finding, DESIGN §9).
 */
function reviewOutcome(outcome: RunOutcome, run: CodexThreadRun, turnId: string, cwd: string, review: ReviewRequest): RunOutcome {
  if (outcome.status !== 'completed') return outcome;
  const text = run.transcript.reviewFor(turnId) ?? outcome.result ?? '';
  const parsed = parseCodexReview(text, { cwd, root: review.root });
  return { status: 'completed', result: text || outcome.result, ...(parsed ? { findings: parsed.findings } : {}) };
}

function newestTurn(turns: readonly Turn[]): Turn | undefined {
  return [...turns].sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0))[0];
}

function recovery(handle: TaskHandle, text: string): void {
  handle.appendOutput({ kind: 'status', text: `[recovery] ${text}` });
}
