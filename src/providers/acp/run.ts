import type * as acp from '@agentclientprotocol/sdk/unstable';
import type { Disposable, Logger } from '../../core/events';
import type { Answer, Usage } from '../../core/task-state';
import type { RunOutcome, TaskHandle } from '../../core/ports';
import { KeeperTransport } from '../../keeper';
import { CommandNotFoundError } from '../transport/process-transport';
import type { MessageTransport, TransportClosed } from '../transport/transport';
import { AcpAgentProcess, spawnAcpAgent, type AcpAgentLaunch } from './connection';
import { permissionOutcome, permissionQuestion } from './permissions';
import { AcpReattachTransport } from './reattach';
import { mutableOutput } from '../stdio/keeper-run';
import type { StreamingOutput } from '../stdio/streaming-output';
import { AcpTranscript } from './transcript';

/** How a prompt turn ended, for the provider to classify (e.g. Copilot's 429 that arrives as text). */
export interface AcpTurnEnd {
  stopReason: acp.StopReason;
  usage?: acp.Usage | null;
  /** The newest agent message of the turn. */
  lastText: string;
}

/** What a run should do once the agent is up. */
export type AcpRunPlan =
  | { kind: 'new'; prompt: string }
  /** Follow-up: load `sessionId` and prompt; when it cannot be loaded, start a new session (with a status line). */
  | { kind: 'continue'; sessionId: string; prompt: string }
  /** Recovery: load `sessionId` and prompt; when it cannot be loaded, fail. */
  | { kind: 'recover'; sessionId: string; prompt: string }
  /** Reattach to an agent that kept running under its keeper (`transport` is an AcpReattachTransport): wait for its turn. */
  | { kind: 'reattach'; sessionId: string };

export interface AcpRunOptions {
  launch: AcpAgentLaunch;
  /** Names the agent in messages ("GitHub Copilot CLI"). */
  agentName: string;
  cwd: string;
  handle: TaskHandle;
  signal: AbortSignal;
  log: Logger;
  runKey: string;
  usageBefore?: Usage;
  clientVersion: string;
  /** How long a cancel waits for the prompt to return `cancelled` before the process is ended (default 2 s). */
  cancelGraceMs?: number;
  flushIntervalMs?: number;
  /** Classifies a turn that ended normally; undefined = the default (end_turn completes, others fail). */
  classifyTurnEnd?: (turn: AcpTurnEnd) => RunOutcome | undefined;
  /** The connection to the agent; default: spawn `launch` (tests replay recorded traffic through their own). */
  transport?: MessageTransport;
  /** Saved with the session id in providerState (the keeper reference, the run key). */
  providerState?: Record<string, unknown>;
}

/** How a run ended, with the facts the provider needs. */
export interface AcpRunEnd {
  outcome: RunOutcome;
  /** The executable could not be started (ENOENT). */
  notFound: boolean;
  sessionId?: string;
  /** A reattached agent had ended, or had no turn in progress: the provider can fall back to session/load. */
  exitedEarly?: boolean;
}

const STDERR_LINES_IN_ERRORS = 20;

/** Thrown inside a run to end it with an outcome. */
class RunStop extends Error {
  constructor(readonly outcome: RunOutcome, readonly notFound = false) {
    super('run stopped');
  }
}

/**
 * One ACP agent process running one prompt turn (PROTOCOLS.md §3): initialize, session/new or session/load, then
 * session/prompt, with session/update mapped to the transcript, session/request_permission to questions, and
 * session/cancel on abort.
 */
export class AcpRun {
  private readonly process: AcpAgentProcess;
  private readonly output: StreamingOutput;
  private readonly transcript: AcpTranscript;
  private readonly subscriptions: Disposable[] = [];
  private readonly openQuestions = new Set<string>();
  private sessionId: string | undefined;
  private cancelled = false;
  private permissionCounter = 0;
  /** Set while session/load replays history: those updates are the past, not this run. */
  private replaying = false;
  private readonly closed: Promise<TransportClosed>;
  /** The window is closing: the agent is let go of under its keeper, its questions stay unanswered. */
  private detaching = false;
  /** While true, transcript entries are not written (journal lines the previous window already showed). */
  private muted = false;
  private exitedEarly = false;

  constructor(private readonly options: AcpRunOptions) {
    const handle = options.handle;
    this.output = mutableOutput(handle, () => this.muted, options.flushIntervalMs);
    this.transcript = new AcpTranscript(this.output, options.runKey, options.cwd, (title) => handle.setTitle(title), options.log);
    const transport = options.transport ?? spawnAcpAgent(options.launch, options.cwd, options.log, options.agentName);
    this.process = new AcpAgentProcess(transport, options.log, options.agentName);
    this.closed = this.process.whenClosed();
  }

  async execute(plan: AcpRunPlan): Promise<AcpRunEnd> {
    const { signal } = this.options;
    const onAbort = (): void => void this.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal.aborted) throw new RunStop({ status: 'aborted' });
      if (plan.kind === 'reattach') return await this.reattach(plan.sessionId);
      const init = await this.untilClosed(this.process.initialize(this.options.clientVersion));
      const canLoad = init.agentCapabilities?.loadSession === true;
      if (plan.kind === 'new') {
        this.sessionId = await this.newSession();
      } else if (!canLoad) {
        if (plan.kind === 'recover') {
          throw new RunStop({ status: 'failed', error: `${this.options.agentName} cannot load a saved session (no loadSession capability), so the task cannot be resumed.` });
        }
        this.status(`${this.options.agentName} cannot load the previous session; starting a new conversation.`);
        this.sessionId = await this.newSession();
      } else {
        try {
          await this.loadSession(plan.sessionId);
          this.sessionId = plan.sessionId;
        } catch (error) {
          if (error instanceof RunStop) throw error;
          const message = errorText(error);
          if (plan.kind === 'recover') {
            throw new RunStop({ status: 'failed', error: `${this.options.agentName} could not load session ${plan.sessionId}: ${message}` });
          }
          this.status(`Could not continue the ${this.options.agentName} session ${plan.sessionId} (${message}); starting a new conversation.`);
          this.sessionId = await this.newSession();
        }
      }
      this.options.handle.setSessionId(this.sessionId);
      this.options.handle.setProviderState({ ...this.options.providerState, sessionId: this.sessionId });
      if (signal.aborted) throw new RunStop({ status: 'aborted' });
      return { outcome: await this.prompt(this.sessionId, plan.prompt), notFound: false, sessionId: this.sessionId };
    } catch (error) {
      if (error instanceof RunStop) return { outcome: error.outcome, notFound: error.notFound, sessionId: this.sessionId, exitedEarly: this.exitedEarly };
      if (this.cancelled) return { outcome: { status: 'aborted' }, notFound: false, sessionId: this.sessionId };
      return { outcome: { status: 'failed', error: `${this.options.agentName}: ${errorText(error)}` }, notFound: false, sessionId: this.sessionId };
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.output.dispose();
      for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
      if (this.detaching) await this.process.detach();
      else await this.process.close();
    }
  }

  /**
   * Ends the process at once (the provider is being disposed). A run already letting go of its keeper (the window's
   * 'shutdown' abort reached it first) is left alone: its agent keeps running for the next window.
   */
  kill(): void {
    if (this.detaching) return;
    this.cancelled = true;
    this.process.kill();
  }

  private keeper(): KeeperTransport | AcpReattachTransport | undefined {
    const transport = this.process.transport;
    return transport instanceof KeeperTransport || transport instanceof AcpReattachTransport ? transport : undefined;
  }

  /** The window is closing: the run ends as aborted and the agent keeps running under its keeper. */
  private detach(): void {
    if (this.detaching) return;
    this.detaching = true;
    this.cancelled = true;
    void this.keeper()?.detach();
  }

  /**
   * Picks up a turn that kept running while no window was attached: the journal's updates rebuild the transcript,
   * a pending permission request is asked again (through the SDK), and the earlier session/prompt's response ends
   * the run as a prompt would.
   */
  private async reattach(sessionId: string): Promise<AcpRunEnd> {
    const transport = this.process.transport;
    if (!(transport instanceof AcpReattachTransport)) throw new RunStop({ status: 'failed', error: 'Internal error: reattach without a keeper' });
    this.sessionId = sessionId;
    this.attach(sessionId);
    this.options.handle.setSessionId(sessionId);
    this.options.handle.setProviderState({ ...this.options.providerState, sessionId });
    let resolveResponse!: (response: { result?: acp.PromptResponse; error?: { message?: string } }) => void;
    const response = new Promise<{ result?: acp.PromptResponse; error?: { message?: string } }>((resolve) => (resolveResponse = resolve));
    let resolveDone!: (summary: { promptPending: boolean; promptAnswered: boolean }) => void;
    const done = new Promise<{ promptPending: boolean; promptAnswered: boolean }>((resolve) => (resolveDone = resolve));
    transport.start({
      onReplayedUpdate: (notification, shown) => {
        if (notification.sessionId !== sessionId) return;
        this.muted = shown;
        try {
          this.transcript.onUpdate(notification.update);
        } catch (error) {
          this.options.log.error(`${this.options.agentName}: could not map a replayed update (${errorText(error)})`);
        } finally {
          this.muted = false;
        }
      },
      onPromptResponse: resolveResponse,
      onReplayDone: resolveDone,
    });
    const summary = await this.untilClosed(done, true);
    if (!summary.promptPending && !summary.promptAnswered) {
      this.exitedEarly = true;
      throw new RunStop({ status: 'failed', error: `${this.options.agentName} had no turn in progress to reattach to` });
    }
    const answer = await this.untilClosed(response, true);
    if (!answer.result) throw new RunStop({ status: 'failed', error: `${this.options.agentName}: ${answer.error?.message ?? 'the prompt failed'}` });
    return { outcome: await this.finishTurn(answer.result), notFound: false, sessionId };
  }

  private async newSession(): Promise<string> {
    const response = await this.untilClosed(this.process.agent.request('session/new', { cwd: this.options.cwd, mcpServers: [] }));
    this.attach(response.sessionId);
    return response.sessionId;
  }

  private async loadSession(sessionId: string): Promise<void> {
    this.attach(sessionId);
    this.replaying = true;
    try {
      await this.untilClosed(this.process.agent.request('session/load', { sessionId, cwd: this.options.cwd, mcpServers: [] }));
      await settleNotifications();
    } finally {
      this.replaying = false;
    }
  }

  private attach(sessionId: string): void {
    this.subscriptions.push(
      this.process.attach(sessionId, {
        onUpdate: (notification) => {
          try {
            if (this.replaying) this.transcript.onReplayedUpdate(notification.update);
            else this.transcript.onUpdate(notification.update);
          } catch (error) {
            this.options.log.error(`${this.options.agentName}: could not map an update (${errorText(error)}): ${JSON.stringify(notification).slice(0, 2000)}`);
          }
        },
        onPermission: (request) => this.askPermission(request),
      }),
    );
  }

  private async prompt(sessionId: string, text: string): Promise<RunOutcome> {
    const response = await this.untilClosed(this.process.agent.request('session/prompt', { sessionId, prompt: [{ type: 'text', text }] }));
    return this.finishTurn(response);
  }

  private async finishTurn(response: acp.PromptResponse): Promise<RunOutcome> {
    // Updates sent before the response may still be in the SDK's dispatch chain: let them land first.
    await settleNotifications();
    this.transcript.endMessage();
    this.output.flush();
    this.reportUsage(response.usage);
    if (this.cancelled || response.stopReason === 'cancelled') {
      return this.cancelled ? { status: 'aborted' } : { status: 'failed', error: `${this.options.agentName} cancelled the turn` };
    }
    const turn: AcpTurnEnd = { stopReason: response.stopReason, usage: response.usage, lastText: this.transcript.lastText };
    return this.options.classifyTurnEnd?.(turn) ?? defaultTurnOutcome(turn, this.options.agentName);
  }

  private async askPermission(request: acp.RequestPermissionRequest): Promise<acp.RequestPermissionResponse> {
    // Detaching: the request stays unanswered; the next window asks it again.
    if (this.detaching) return new Promise<never>(() => undefined);
    if (this.cancelled) return { outcome: { outcome: 'cancelled' } };
    const requestId = `acp-permission-${request.toolCall.toolCallId}-${++this.permissionCounter}`;
    const question = await permissionQuestion(requestId, request, this.transcript.toolCall(request.toolCall.toolCallId), { cwd: this.options.cwd });
    if (this.detaching) return new Promise<never>(() => undefined);
    if (this.cancelled) return { outcome: { outcome: 'cancelled' } };
    this.openQuestions.add(requestId);
    let answer: Answer | undefined;
    try {
      answer = await this.options.handle.ask(question);
    } catch {
      answer = undefined; // withdrawn or aborted: cancelled, never allowed
    } finally {
      this.openQuestions.delete(requestId);
    }
    if (this.detaching) return new Promise<never>(() => undefined);
    if (this.cancelled) return { outcome: { outcome: 'cancelled' } };
    const outcome = permissionOutcome(answer, request.options);
    if (answer && 'decision' in answer && answer.decision === 'deny' && answer.message) {
      this.options.log.debug(`${this.options.agentName}: ACP has no field for a deny message; not sent: ${answer.message}`);
    }
    return { outcome };
  }

  /** session/cancel; the prompt then returns `cancelled`. After the grace period the process is ended anyway. */
  private async cancel(): Promise<void> {
    if (this.options.signal.reason === 'shutdown' && this.keeper()) {
      this.detach();
      return;
    }
    if (this.cancelled) return;
    this.cancelled = true;
    for (const requestId of this.openQuestions) this.options.handle.withdrawQuestion(requestId, 'The task is stopping');
    if (!this.sessionId) {
      // Nothing to cancel yet (still starting up): end the process.
      this.process.kill();
      return;
    }
    this.process.agent.notify('session/cancel', { sessionId: this.sessionId }).catch(() => undefined);
    const timer = setTimeout(() => this.process.kill(), this.options.cancelGraceMs ?? 2000);
    await this.closed;
    clearTimeout(timer);
  }

  private reportUsage(usage: acp.Usage | null | undefined): void {
    if (!usage) return;
    const before = this.options.usageBefore;
    // Prompt usage is cumulative for the session within this process, and this run is the whole process.
    this.options.handle.reportUsage({
      inputTokens: (before?.inputTokens ?? 0) + usage.inputTokens,
      outputTokens: (before?.outputTokens ?? 0) + usage.outputTokens,
      ...(before?.costUsd !== undefined ? { costUsd: before.costUsd } : {}),
    });
  }

  /** Races a request with the process exiting, so a dead agent fails the run with its exit and stderr. */
  private async untilClosed<T>(request: Promise<T>, reattached = false): Promise<T> {
    const exited = this.closed.then(async (closed) => {
      // A response that arrived just before the exit is still in the SDK's dispatch: let it win.
      await settleNotifications();
      if (reattached && !this.cancelled) this.exitedEarly = true;
      throw new RunStop(this.exitOutcome(closed), closed.error instanceof CommandNotFoundError);
    });
    exited.catch(() => undefined);
    try {
      return await Promise.race([request, exited]);
    } catch (error) {
      if (error instanceof RunStop) throw error;
      // The SDK rejects pending requests when the connection closes; prefer the process's own story.
      if (this.process.transport.closed) {
        const closed = await this.closed;
        throw new RunStop(this.exitOutcome(closed), closed.error instanceof CommandNotFoundError);
      }
      throw error;
    }
  }

  private exitOutcome(closed: TransportClosed): RunOutcome {
    if (this.cancelled) return { status: 'aborted' };
    if (closed.error instanceof CommandNotFoundError) return { status: 'failed', error: closed.error.message };
    const how = closed.signal ? `was killed by ${closed.signal}` : `exited with code ${closed.code}`;
    const tail = closed.stderrTail.trim().split('\n').slice(-STDERR_LINES_IN_ERRORS).join('\n');
    const error = closed.error ? `${this.options.agentName} could not run: ${closed.error.message}` : `${this.options.agentName} ${how} before the turn finished`;
    return { status: 'failed', error: tail ? `${error}:\n${tail}` : error, exitCode: closed.code ?? undefined };
  }

  private status(text: string): void {
    this.output.append({ kind: 'status', text });
  }
}

/** end_turn completes with the last agent message; the other stop reasons did not finish the task. */
export function defaultTurnOutcome(turn: AcpTurnEnd, agentName: string): RunOutcome {
  switch (turn.stopReason) {
    case 'end_turn':
      return { status: 'completed', result: turn.lastText || undefined };
    case 'max_tokens':
      return { status: 'failed', error: `${agentName} stopped: the reply reached the model's token limit` };
    case 'max_turn_requests':
      return { status: 'failed', error: `${agentName} stopped: it reached its limit of model requests for one turn` };
    case 'refusal':
      return { status: 'failed', error: `${agentName} refused to continue` };
    case 'cancelled':
      return { status: 'failed', error: `${agentName} cancelled the turn` };
    default: {
      const never: never = turn.stopReason;
      return { status: 'failed', error: `${agentName} stopped (${String(never)})` };
    }
  }
}

/** Lets notifications already received finish their trip through the SDK's async dispatch. */
function settleNotifications(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'message' in error) return String((error as { message: unknown }).message);
  return String(error);
}
