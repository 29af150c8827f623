// The local RPC between the MCP server bundle (dist/mcp-server.js, started by an MCP client) and the extension host
// that owns the tasks: JSON lines over a per-workspace Unix socket (0600, in a 0700 directory), opened with a token.
// Both ends import this file, so the wire shapes live in one place.
import type {
  AgentChoice,
  Answer,
  Finding,
  Isolation,
  OutputEntry,
  PendingQuestion,
  PendingQuestionType,
  TaskCheck,
  TaskStatus,
  TaskTypeName,
  TaskWorktree,
  Usage,
  WorktreeFileChange,
} from '../core/task-state';
import { MAX_JSONL_LINE_BYTES } from '../platform/jsonl';

/** Environment variables the server bundle reads; `Agent Tasks: Copy MCP Server Config` writes them into the snippets. */
export const ENV_SOCKET = 'AGENT_TASKS_SOCKET';
export const ENV_TOKEN = 'AGENT_TASKS_TOKEN';
/**
 * The file that holds the token (the workspace's mcp-token, 0600, in VS Code's user-level workspace storage). The
 * snippets name this file rather than the token, so the token is never in argv, shell history or a project file,
 * and a rotated token reaches every client at its next connection.
 */
export const ENV_TOKEN_FILE = 'AGENT_TASKS_TOKEN_FILE';

/** Every task created over MCP carries this label, so the user sees where it came from. */
export const DELEGATED_LABEL = 'delegated';

/** Bumped on any incompatible change of the messages below. */
export const HOST_PROTOCOL_VERSION = 1;

/** A line longer than this is a protocol error (it would only come from a broken or hostile peer). */
export const MAX_LINE_BYTES = MAX_JSONL_LINE_BYTES;

/** Until the token is verified the host reads no more than this (L3): a hello is a few hundred bytes. */
export const MAX_HELLO_BYTES = 4 * 1024;

/** The session secret in a hello: random hex (the bundle makes 32 bytes). */
export const SESSION_SHAPE = /^[0-9a-f]{32,128}$/;

/** Whether the delegating agent may answer a question of a delegated task (DESIGN §6). */
export const DELEGATOR_MAY_ANSWER: Record<PendingQuestionType, 'always' | 'ifAllowed'> = {
  user_input: 'always',
  elicitation: 'always',
  command_approval: 'ifAllowed',
  file_approval: 'ifAllowed',
  dynamic_tool: 'ifAllowed',
};

export function delegatorMayAnswer(type: PendingQuestionType, allowAgentApprovals: boolean): boolean {
  return DELEGATOR_MAY_ANSWER[type] === 'always' || allowAgentApprovals;
}

/** A pending question as the delegating agent sees it. */
export type WireQuestion = PendingQuestion & {
  /** False when only the user (in VS Code) may answer it. */
  agentMayAnswer: boolean;
};

/** A task as the bundle sees it: the TaskSnapshot without its output ring (asked for separately). */
export interface WireTask {
  id: string;
  status: TaskStatus;
  provider: string;
  taskType: TaskTypeName;
  model?: string;
  prompt: string;
  /** The task's title when the agent named it (else clients show the prompt). */
  title?: string;
  labels: string[];
  dependsOn: string[];
  parentId?: string;
  /** Created over MCP (carries DELEGATED_LABEL): only these can be changed over MCP. */
  delegated: boolean;
  created: number;
  updated: number;
  started?: number;
  completed?: number;
  result?: string;
  error?: string;
  usage?: Usage;
  pendingQuestions: WireQuestion[];
  /** The last entries of the transcript, when the request asked for them. */
  output?: OutputEntry[];
  /** DESIGN §8: the task's worktree and its change summary, when it runs isolated. */
  worktree?: WireWorktree;
  /** DESIGN §9: the last check run in its worktree (the tail cut to MAX_CHECK_TAIL_CHARS, keeping the end). */
  check?: TaskCheck;
  /** DESIGN §9: shared by the attempts launched together on one prompt. */
  attemptGroup?: string;
  /** DESIGN §9: on a review task, the task it reviews. */
  reviewOf?: string;
  /** DESIGN §9: on a review task, its first MAX_WIRE_FINDINGS findings (long texts cut, and saying so). */
  findings?: Finding[];
  /** How many findings the review has (more than `findings.length` when the list was cut). */
  findingCount?: number;
}

/** A task's worktree on the wire: its change summary lists at most MAX_WIRE_FILES files and says how many there are. */
export interface WireWorktree extends Pick<TaskWorktree, 'path' | 'branch' | 'baseCommit' | 'state' | 'conflicts'> {
  changes: {
    /** The first MAX_WIRE_FILES changed files. */
    files: WorktreeFileChange[];
    /** How many files changed (more than `files.length` when the list was cut). */
    fileCount: number;
    insertions: number;
    deletions: number;
  };
}

/** How many changed files a WireWorktree lists; get_task_changes pages the whole diff. */
export const MAX_WIRE_FILES = 50;

/** How many findings a WireTask lists, and where a finding's title, path or body is cut. */
export const MAX_WIRE_FINDINGS = 50;
export const MAX_FINDING_TEXT_CHARS = 4_000;
/** A check's tail on the wire keeps its last this many characters (it is ≤ 40 lines, but a line can be long). */
export const MAX_CHECK_TAIL_CHARS = 8_000;
/** The most agents one spawn_task may start on the same prompt. */
export const MAX_ATTEMPTS = 8;

/** Lines per page of a diff when the request names no limit, and the most one request may ask for. */
export const DIFF_PAGE_LINES = 400;
export const MAX_DIFF_PAGE_LINES = 2_000;
/** A page ends (on a whole line) before this many characters, so one answer stays readable for an agent. */
export const MAX_DIFF_PAGE_CHARS = 60_000;
/** A longer diff line (minified code, a lockfile) is cut here, and says so. */
export const MAX_DIFF_LINE_CHARS = 2_000;

/** One page of a task's unified diff against its base (get_task_changes). */
export interface WireDiffPage {
  taskId: string;
  worktree: WireWorktree;
  /** The one file asked for, if any. */
  path?: string;
  /** The page: whole lines of the diff (a line too long to show is cut, and says so). */
  text: string;
  /** Its first line (0-based) and how many lines it holds. */
  offset: number;
  lines: number;
  totalLines: number;
  /** Where the next page starts; absent on the last page. */
  nextOffset?: number;
}

/** What merge_task_changes did: `merged`/`applied` changed the main checkout; the others left it exactly as it was. */
export interface WireMergeResult {
  outcome: 'merged' | 'applied' | 'conflict' | 'dirty' | 'busy';
  /** What happened and what to do next, naming the files. */
  message: string;
  /** The files merged or applied, in conflict, or holding the user's uncommitted edits. */
  files: string[];
  task: WireTask;
}

/** The task fields an agent may set when it delegates (a subset of CreateTaskInput: no cwd, no profile). */
export interface SpawnParams {
  prompt: string;
  provider?: string;
  taskType?: TaskTypeName;
  model?: string;
  dependsOn?: string[];
  labels?: string[];
  timeoutMinutes?: number;
  /** DESIGN §8: run in a worktree of its own (the user's agentTasks.isolation by default) or in the folder itself. */
  isolation?: Isolation;
  /** The MCP client's name (from initialize), recorded in the transcript. */
  client?: string;
}

/** DESIGN §9: the same prompt for several agents, one isolated task each (`provider` goes in each attempt instead). */
export interface AttemptsParams extends SpawnParams {
  attempts: AgentChoice[];
}

/** The attempts started together: their group and one task per agent, in the order asked. */
export interface WireAttempts {
  attemptGroup: string;
  tasks: WireTask[];
}

/** DESIGN §9: a review of a delegated task's change by another agent (the first other provider by default). */
export interface ReviewParams {
  taskId: string;
  provider?: string;
  profile?: string;
  model?: string;
  /** The MCP client's name (from initialize), recorded in the transcript. */
  client?: string;
}

/** Methods the host serves, with their parameters and results. */
export interface HostMethods {
  spawn: { params: SpawnParams; result: WireTask };
  get: { params: { taskId: string; outputEntries?: number }; result: WireTask };
  /** The client's own tasks (all delegated, so `delegatedOnly` changes nothing; older bundles send it). */
  list: { params: { status?: TaskStatus; label?: string; delegatedOnly?: boolean }; result: WireTask[] };
  /** `answer` is an Answer or a shorthand (see normalizeAnswer). */
  answer: { params: { taskId: string; requestId: string; answer: unknown }; result: WireTask };
  cancel: { params: { taskId: string }; result: WireTask };
  followUp: { params: { taskId: string; message: string }; result: WireTask };
  transcript: { params: { taskId: string }; result: OutputEntry[] };
  /** A page of the task's diff against its worktree's base. */
  changes: { params: { taskId: string; path?: string; offset?: number; limit?: number }; result: WireDiffPage };
  /** Merges or applies a finished delegated task's work; refused unless the user allowed agents to merge. */
  merge: { params: { taskId: string; how?: 'merge' | 'apply' }; result: WireMergeResult };
  /** Starts one isolated task per agent on the same prompt, all in one attempt group. */
  attempts: { params: AttemptsParams; result: WireAttempts };
  /** Starts a read-only review of a delegated task's change; the review task is the client's too. */
  review: { params: ReviewParams; result: WireTask };
}
export type HostMethod = keyof HostMethods;
export const HOST_METHODS: readonly HostMethod[] = ['spawn', 'get', 'list', 'answer', 'cancel', 'followUp', 'transcript', 'changes', 'merge', 'attempts', 'review'];

/** Client → host, first line on a connection. */
export interface HelloMessage {
  type: 'hello';
  version: number;
  token: string;
  /**
   * A random secret the bundle makes once per process (per MCP client session). The tasks a session spawns are its
   * own: it sees and acts on only those, across reconnects. Without it a connection owns only what it spawns itself.
   */
  session?: string;
}

/** Host → client, the answer to hello. */
export type HelloReply =
  | { type: 'welcome'; version: number; workspace: string }
  | { type: 'refused'; reason: 'token' | 'version' | 'protocol'; message: string };

/** Client → host after welcome. */
export interface HostRequest<M extends HostMethod = HostMethod> {
  type: 'request';
  id: number;
  method: M;
  params: HostMethods[M]['params'];
}

/** Host → client, one per request. */
export type HostResponse =
  | { type: 'response'; id: number; result: unknown }
  | { type: 'response'; id: number; error: { message: string } };

/** Host → client, unsolicited. Output events carry no text: the client reads what it needs. */
export type HostEvent =
  | { type: 'event'; event: 'taskCreated'; task: WireTask }
  | { type: 'event'; event: 'taskChanged'; task: WireTask }
  | { type: 'event'; event: 'taskOutput'; taskId: string }
  | { type: 'event'; event: 'taskRemoved'; taskId: string };

export type HostToClient = HelloReply | HostResponse | HostEvent;

/** Turns an agent's answer (the Answer union, or a shorthand) into the Answer the question expects. */
export function normalizeAnswer(question: PendingQuestion, raw: unknown): Answer {
  let value = raw;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('{')) {
      try {
        value = JSON.parse(text) as unknown;
      } catch {
        // Not JSON after all: treat it as text below.
      }
    }
  }
  if (typeof value === 'string') return answerFromText(question, value.trim());
  if (typeof value !== 'object' || value === null) throw new Error('answer must be text or an object');
  const object = value as Record<string, unknown>;
  if (question.type === 'user_input' && typeof object.answers === 'object' && object.answers !== null && !Array.isArray(object.answers)) {
    // Accept {answers: {q1: "A"}} as well as {answers: {q1: ["A"]}}.
    const answers = Object.fromEntries(
      Object.entries(object.answers as Record<string, unknown>).map(([id, v]) => [id, typeof v === 'string' ? [v] : v]),
    );
    return { answers } as Answer;
  }
  return object as Answer;
}

function answerFromText(question: PendingQuestion, text: string): Answer {
  switch (question.type) {
    case 'command_approval':
    case 'file_approval': {
      const decision = { approve: 'approve', approveforsession: 'approveForSession', deny: 'deny' }[text.toLowerCase().replace(/[\s_-]/g, '')];
      if (!decision) throw new Error('Answer an approval with "approve", "approveForSession" or "deny"');
      return { decision } as Answer;
    }
    case 'user_input':
      if (question.questions.length !== 1) {
        throw new Error(`This request has ${question.questions.length} questions: answer with {"answers": {"<questionId>": ["<text>"]}}`);
      }
      return { answers: { [question.questions[0].id]: [text] } };
    case 'elicitation':
      if (text === 'decline' || text === 'cancel') return { action: text };
      throw new Error('Answer an elicitation with {"action": "accept", "content": {…}}, or "decline" / "cancel"');
    case 'dynamic_tool':
      return { text, success: true };
    default: {
      const never: never = question;
      throw new Error(`Unknown question ${String(never)}`);
    }
  }
}
